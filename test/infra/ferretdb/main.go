// Command ferretdb runs a MongoDB-compatible server backed by SQLite files,
// for integration tests on machines without a Docker engine or mongod. Given
// -postgresql-url it stores its data in that PostgreSQL database instead: the
// SQLite handler filters and sorts whole collections in this process, the
// PostgreSQL handler pushes queries down to indexed tables, which makes its
// figures the closer ones to MongoDB's for benchmarks.
//
// It embeds FerretDB's library package rather than building FerretDB's own
// command, which refuses to start without the version file its release build
// generates. FerretDB listens on a private Unix socket; clients reach it
// through a proxy on -listen that runs write commands one at a time (see
// proxy.go).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("dir", "", "directory holding the SQLite database files (required without -postgresql-url)")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL connection string: use the PostgreSQL handler instead of SQLite")
	verbose := flag.Bool("v", false, "log every connection and warning, not only errors")
	flag.Parse()

	handler, sqliteURL := "postgresql", ""
	if *pgURL == "" {
		if *dir == "" {
			fmt.Fprintln(os.Stderr, "ferretdb: -dir is required")
			os.Exit(2)
		}
		abs, err := filepath.Abs(*dir)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
			os.Exit(2)
		}
		if err := os.MkdirAll(abs, 0o700); err != nil {
			fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
			os.Exit(2)
		}
		handler, sqliteURL = "sqlite", "file:"+abs+"/"
	}

	level := slog.LevelError
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	// A socket path must stay under ~100 bytes, so it does not live in -dir.
	sockDir, err := os.MkdirTemp("", "ferretdb-sock-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		os.Exit(1)
	}
	defer os.RemoveAll(sockDir)
	sock := filepath.Join(sockDir, "s")

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{Unix: sock},
		Logger:        logger,
		Handler:       handler,
		SQLiteURL:     sqliteURL,
		PostgreSQLURL: *pgURL,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	l, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		os.Exit(1)
	}
	go (&writeSerializer{backend: sock, log: logger}).serve(l)
	go func() {
		<-ctx.Done()
		l.Close()
	}()

	fmt.Fprintf(os.Stdout, "ferretdb listening on %s\n", l.Addr())
	if err := f.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		os.Exit(1)
	}
}
