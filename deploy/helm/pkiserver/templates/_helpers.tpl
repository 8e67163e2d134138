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
Rejects contradictory secret settings instead of silently ignoring values, and
requires what the services cannot start without.
*/}}
{{- define "pkiserver.validateSecrets" -}}
{{- if .Values.secrets.existingSecret -}}
{{- if or .Values.secrets.secretKey .Values.secrets.initializationToken .Values.mongo.url .Values.nats.url -}}
{{- fail "secrets.existingSecret is set: leave secrets.secretKey, secrets.initializationToken, mongo.url and nats.url empty and put them in that Secret" -}}
{{- end -}}
{{- else -}}
{{- $_ := required "mongo.url is required (or use secrets.existingSecret)" .Values.mongo.url -}}
{{- $_ := required "nats.url is required (or use secrets.existingSecret)" .Values.nats.url -}}
{{- $_ := required "secrets.secretKey is required (or use secrets.existingSecret)" .Values.secrets.secretKey -}}
{{- end -}}
{{- end -}}
