{{/* The chart's name, or nameOverride. */}}
{{- define "memif-wasm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name of every object. */}}
{{- define "memif-wasm.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "memif-wasm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "memif-wasm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "memif-wasm.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "memif-wasm.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: dataplane
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "memif-wasm.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "memif-wasm.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* repository@digest, or repository:tag (default appVersion). */}}
{{- define "memif-wasm.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The daemon's config: the user's, with the metrics address and admin
socket the pod spec relies on (probes, scraping, emptyDir). */}}
{{- define "memif-wasm.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- $_ := set $cfg "metrics" (dict "addr" (printf "0.0.0.0:%d" (int .Values.metrics.port))) -}}
{{- $admin := dict "socket" "/run/memif-wasm/admin.sock" -}}
{{- if hasKey $cfg "admin" -}}
{{- $admin = merge $admin (deepCopy $cfg.admin) -}}
{{- $_ := set $admin "socket" "/run/memif-wasm/admin.sock" -}}
{{- end -}}
{{- $_ := set $cfg "admin" $admin -}}
{{- if .Values.registryAuthSecret -}}
{{- $reg := deepCopy (default (dict) $cfg.registry) -}}
{{- $_ := set $reg "docker_config" "/etc/memif-wasm/registry/config.json" -}}
{{- $_ := set $cfg "registry" $reg -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}
