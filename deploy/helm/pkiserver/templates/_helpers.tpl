{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "pkiserver.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name; component resources append "-<component>". */}}
{{- define "pkiserver.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "pkiserver.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "pkiserver.labels" -}}
helm.sh/chart: {{ include "pkiserver.chart" . }}
{{ include "pkiserver.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pkiserver
{{- end -}}

{{- define "pkiserver.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pkiserver.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one component; call with (dict "root" $ "name" $name). */}}
{{- define "pkiserver.componentLabels" -}}
{{ include "pkiserver.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "pkiserver.componentSelectorLabels" -}}
{{ include "pkiserver.selectorLabels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* Name of one component's Deployment, Service and policies. */}}
{{- define "pkiserver.componentName" -}}
{{- printf "%s-%s" (include "pkiserver.fullname" .root) .name -}}
{{- end -}}

{{- define "pkiserver.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "pkiserver.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pkiserver.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "pkiserver.configMapName" -}}
{{- printf "%s-config" (include "pkiserver.fullname" .) -}}
{{- end -}}

{{- define "pkiserver.secretName" -}}
{{- default (printf "%s-secrets" (include "pkiserver.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/*
Where each secret env var comes from. "inline": the value when the chart
creates the Secret; "source": a setting with its own existingSecret (and, for
URLs that embed a password, password.existingSecret).
*/}}
{{- define "pkiserver.secretSources" -}}
PMX_MONGO_URL: {inline: {{ .Values.mongo.url | toJson }}, source: mongo, passwordEnv: PMX_MONGO_PASSWORD}
PMX_NATS_URL: {inline: {{ .Values.nats.url | toJson }}, source: nats}
PMX_REDIS_URL: {inline: {{ .Values.redis.url | toJson }}, source: redis, passwordEnv: PMX_REDIS_PASSWORD}
PMX_SECRET_KEY: {inline: {{ .Values.secrets.secretKey | toJson }}}
PMX_INITIALIZATION_TOKEN: {inline: {{ .Values.secrets.initializationToken | toJson }}}
PMX_LOG_SIGNING_KEY: {inline: {{ .Values.transparencyLog.signingKey | toJson }}, source: transparencyLog}
{{- end -}}

{{/* The values block of a source name (mongo, nats, redis, transparencyLog). */}}
{{- define "pkiserver.sourceValues" -}}
{{- toJson (index .root.Values .source) -}}
{{- end -}}

{{/*
The env entries of one secret env var for a container; call with
(dict "root" $ "key" "PMX_MONGO_URL"). Renders nothing for an optional setting
that is not configured.
*/}}
{{- define "pkiserver.secretEnvVar" -}}
{{- $root := .root -}}
{{- $key := .key -}}
{{- $sources := include "pkiserver.secretSources" $root | fromYaml -}}
{{- $def := index $sources $key | default dict -}}
{{- $src := dict -}}
{{- if $def.source -}}
{{- $src = include "pkiserver.sourceValues" (dict "root" $root "source" $def.source) | fromJson -}}
{{- end -}}
{{- $existing := $src.existingSecret | default dict -}}
{{- $password := ($src.password | default dict).existingSecret | default dict -}}
{{- $optional := has $key $root.Values.secrets.optionalKeys -}}
{{- if $existing.name }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $existing.name }}
      key: {{ default $key $existing.key }}
{{- else if $password.name }}
- name: {{ $def.passwordEnv }}
  valueFrom:
    secretKeyRef:
      name: {{ $password.name }}
      key: {{ $password.key }}
# Kubernetes substitutes $({{ $def.passwordEnv }}) from the entry above.
- name: {{ $key }}
  value: {{ $def.inline | quote }}
{{- else if $root.Values.secrets.existingSecret }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.secrets.existingSecret }}
      key: {{ $key }}
      {{- if $optional }}
      optional: true
      {{- end }}
{{- else if $def.inline }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ include "pkiserver.secretName" $root }}
      key: {{ $key }}
{{- end }}
{{- end -}}

{{/*
Rejects contradictory secret settings instead of silently ignoring values, and
requires what the services cannot start without.
*/}}
{{- define "pkiserver.validateSecrets" -}}
{{- $v := .Values -}}
{{- range $name := list "mongo" "nats" "redis" -}}
{{- $s := index $v $name -}}
{{- $pw := (($s.password | default dict).existingSecret | default dict) -}}
{{- if and $s.existingSecret.name $s.url -}}
{{- fail (printf "%s.existingSecret.name is set: leave %s.url empty (the Secret holds the URL)" $name $name) -}}
{{- end -}}
{{- if and $s.existingSecret.name $pw.name -}}
{{- fail (printf "set %s.existingSecret (the whole URL) or %s.password.existingSecret (the password alone), not both" $name $name) -}}
{{- end -}}
{{- if $pw.name -}}
{{- if not $pw.key -}}
{{- fail (printf "%s.password.existingSecret.key is required with its name" $name) -}}
{{- end -}}
{{- $placeholder := printf "$(PMX_%s_PASSWORD)" (upper $name) -}}
{{- if not (contains $placeholder $s.url) -}}
{{- fail (printf "%s.password.existingSecret is set: %s.url must contain %s where the password goes" $name $name $placeholder) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and $v.transparencyLog.existingSecret.name $v.transparencyLog.signingKey -}}
{{- fail "transparencyLog.existingSecret.name is set: leave transparencyLog.signingKey empty" -}}
{{- end -}}
{{- if $v.secrets.existingSecret -}}
{{- if or $v.secrets.secretKey $v.secrets.initializationToken $v.transparencyLog.signingKey -}}
{{- fail "secrets.existingSecret is set: leave secrets.secretKey, secrets.initializationToken and transparencyLog.signingKey empty and put them in that Secret" -}}
{{- end -}}
{{- range $name := list "mongo" "nats" "redis" -}}
{{- $s := index $v $name -}}
{{- if and $s.url (not (($s.password | default dict).existingSecret | default dict).name) -}}
{{- fail (printf "secrets.existingSecret is set: leave %s.url empty and put it in that Secret (or use %s.existingSecret)" $name $name) -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- if not (or $v.mongo.url $v.mongo.existingSecret.name) -}}
{{- fail "mongo.url or mongo.existingSecret.name is required (or use secrets.existingSecret)" -}}
{{- end -}}
{{- if not (or $v.nats.url $v.nats.existingSecret.name) -}}
{{- fail "nats.url or nats.existingSecret.name is required (or use secrets.existingSecret)" -}}
{{- end -}}
{{- $_ := required "secrets.secretKey is required (or use secrets.existingSecret)" $v.secrets.secretKey -}}
{{- end -}}
{{- if $v.grpcTls.enabled -}}
{{- $_ := required "grpcTls.existingSecret is required with grpcTls.enabled" $v.grpcTls.existingSecret -}}
{{- end -}}
{{- end -}}

{{/*
The values the chart's own Secret holds: inline secret values that no
existingSecret replaces. URLs that embed a password reference are not secret.
*/}}
{{- define "pkiserver.inlineSecretData" -}}
{{- $sources := include "pkiserver.secretSources" . | fromYaml -}}
{{- range $key, $def := $sources }}
{{- $src := dict -}}
{{- if $def.source -}}
{{- $src = include "pkiserver.sourceValues" (dict "root" $ "source" $def.source) | fromJson -}}
{{- end -}}
{{- $pw := (($src.password | default dict).existingSecret | default dict) -}}
{{- if and $def.inline (not (($src.existingSecret | default dict).name)) (not $pw.name) }}
{{ $key }}: {{ $def.inline | b64enc | quote }}
{{- end }}
{{- end }}
{{- end -}}
