// Command tlog-check verifies, with Go's reference packages golang.org/x/mod/sumdb/note and
// golang.org/x/mod/sumdb/tlog, a log written by @pkiserver/log: its signed checkpoint, its
// C2SP tiles and entry bundles, and proofs. It exits 0 when everything holds and prints the
// first failure otherwise.
//
// Usage: tlog-check DIR, where DIR holds
//
//	verifier-key   the checkpoint key in signed-note verifier form
//	signing-key    (optional) the same key in PRIVATE+KEY form: Go must sign the body identically
//	checkpoint     the signed checkpoint note
//	tile/...       hash tiles and entry bundles in the C2SP tlog-tiles layout
//	proofs.json    {"inclusion":[{"index","size","entry","hashes"}],
//	                "consistency":[{"from","to","fromRoot","hashes"}]} (base64 values)
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type inclusion struct {
	Index  int64    `json:"index"`
	Size   int64    `json:"size"`
	Entry  string   `json:"entry"`
	Hashes []string `json:"hashes"`
}

type consistency struct {
	From     int64    `json:"from"`
	To       int64    `json:"to"`
	FromRoot string   `json:"fromRoot"`
	Hashes   []string `json:"hashes"`
}

type proofs struct {
	Inclusion   []inclusion   `json:"inclusion"`
	Consistency []consistency `json:"consistency"`
}

// tileReader serves tlog tiles from the C2SP layout: Go names them tile/8/L/N, C2SP tile/L/N,
// and Go's data tiles (L = -1) are C2SP's entry bundles.
type tileReader struct{ dir string }

func (r tileReader) Height() int { return 8 }

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		p := strings.TrimPrefix(t.Path(), "tile/8/")
		if t.L == -1 {
			p = "entries/" + strings.TrimPrefix(p, "data/")
		}
		data, err := os.ReadFile(filepath.Join(r.dir, "tile", filepath.FromSlash(p)))
		if err != nil {
			return nil, fmt.Errorf("tile %s: %w", p, err)
		}
		out[i] = data
	}
	return out, nil
}

func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

func hashOf(s string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != tlog.HashSize {
		return h, fmt.Errorf("bad hash %q", s)
	}
	copy(h[:], b)
	return h, nil
}

func hashesOf(ss []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ss))
	for i, s := range ss {
		h, err := hashOf(s)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

// parseCheckpoint reads the four-line body: origin, size, root, "headmap <root>".
func parseCheckpoint(text string, origin string) (tlog.Tree, error) {
	lines := strings.Split(text, "\n")
	if len(lines) != 5 || lines[4] != "" || lines[0] != origin || !strings.HasPrefix(lines[3], "headmap ") {
		return tlog.Tree{}, errors.New("malformed checkpoint body")
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != lines[1] {
		return tlog.Tree{}, errors.New("malformed checkpoint size")
	}
	h, err := hashOf(lines[2])
	if err != nil {
		return tlog.Tree{}, err
	}
	if _, err := hashOf(strings.TrimPrefix(lines[3], "headmap ")); err != nil {
		return tlog.Tree{}, err
	}
	return tlog.Tree{N: n, Hash: h}, nil
}

func run(dir string) error {
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }
	vkey, err := read("verifier-key")
	if err != nil {
		return err
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		return fmt.Errorf("verifier key: %w", err)
	}
	msg, err := read("checkpoint")
	if err != nil {
		return err
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return fmt.Errorf("checkpoint signature: %w", err)
	}
	tree, err := parseCheckpoint(n.Text, verifier.Name())
	if err != nil {
		return err
	}

	if skey, err := read("signing-key"); err == nil {
		signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
		if err != nil {
			return fmt.Errorf("signing key: %w", err)
		}
		signed, err := note.Sign(&note.Note{Text: n.Text}, signer)
		if err != nil {
			return err
		}
		if !bytes.Equal(signed, msg) {
			return errors.New("go signs the checkpoint body differently")
		}
	}

	// Every hash read through this reader comes from tiles checked against the checkpoint's root.
	hr := tlog.TileHashReader(tree, tileReader{dir})
	root, err := tlog.TreeHash(tree.N, hr)
	if err != nil {
		return fmt.Errorf("tiles: %w", err)
	}
	if root != tree.Hash {
		return errors.New("tiles do not hash to the checkpoint's root")
	}

	// Entry bundles: each entry's record hash must be the leaf hash in the verified tiles.
	for start := int64(0); start < tree.N; start += 256 {
		w := min(tree.N-start, 256)
		name := filepath.Join("tile", "entries", filepath.FromSlash(strings.TrimPrefix(tlog.Tile{H: 8, L: 0, N: start / 256, W: int(w)}.Path(), "tile/8/0/")))
		bundle, err := read(name)
		if err != nil {
			return err
		}
		for i := start; i < start+w; i++ {
			if len(bundle) < 2 {
				return fmt.Errorf("entry bundle %s is truncated", name)
			}
			l := int(binary.BigEndian.Uint16(bundle))
			if len(bundle) < 2+l {
				return fmt.Errorf("entry bundle %s is truncated", name)
			}
			leaf, err := hr.ReadHashes([]int64{tlog.StoredHashIndex(0, i)})
			if err != nil {
				return err
			}
			if tlog.RecordHash(bundle[2:2+l]) != leaf[0] {
				return fmt.Errorf("entry %d does not hash to its leaf", i)
			}
			bundle = bundle[2+l:]
		}
		if len(bundle) != 0 {
			return fmt.Errorf("entry bundle %s has trailing bytes", name)
		}
	}

	raw, err := read("proofs.json")
	if err != nil {
		return err
	}
	var ps proofs
	if err := json.Unmarshal(raw, &ps); err != nil {
		return err
	}
	for _, p := range ps.Inclusion {
		entry, err := base64.StdEncoding.DecodeString(p.Entry)
		if err != nil {
			return err
		}
		hashes, err := hashesOf(p.Hashes)
		if err != nil {
			return err
		}
		sizeRoot, err := tlog.TreeHash(p.Size, hr)
		if err != nil {
			return err
		}
		if err := tlog.CheckRecord(hashes, p.Size, sizeRoot, p.Index, tlog.RecordHash(entry)); err != nil {
			return fmt.Errorf("inclusion of %d in %d: %w", p.Index, p.Size, err)
		}
		want, err := tlog.ProveRecord(p.Size, p.Index, hr)
		if err != nil {
			return err
		}
		if fmt.Sprint(want) != fmt.Sprint(tlog.RecordProof(hashes)) {
			return fmt.Errorf("inclusion of %d in %d differs from Go's proof", p.Index, p.Size)
		}
	}
	for _, p := range ps.Consistency {
		hashes, err := hashesOf(p.Hashes)
		if err != nil {
			return err
		}
		old, err := hashOf(p.FromRoot)
		if err != nil {
			return err
		}
		toRoot, err := tlog.TreeHash(p.To, hr)
		if err != nil {
			return err
		}
		if err := tlog.CheckTree(hashes, p.To, toRoot, p.From, old); err != nil {
			return fmt.Errorf("consistency of %d with %d: %w", p.From, p.To, err)
		}
	}
	fmt.Printf("ok: %s size %d, %d inclusion and %d consistency proofs\n", verifier.Name(), tree.N, len(ps.Inclusion), len(ps.Consistency))
	return nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: tlog-check DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "tlog-check:", err)
		os.Exit(1)
	}
}
