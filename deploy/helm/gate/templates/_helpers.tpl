{{/*
Named templates of the gate chart. Only the functions tests/support/helmrender
implements may be used here and in the templates (see ../README.md).
*/}}

{{/* The name of the webhook's objects: <release>-webhook. */}}
{{- define "gate.fullname" -}}
{{ .Release.Name }}-webhook
{{- end }}

{{/* Labels of every object of the webhook (and its selector). */}}
{{- define "gate.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/component: webhook
{{- end }}

{{/* The container image: repository@digest when a digest is given, else repository:tag. */}}
{{- define "gate.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end }}
