{{/* Names, labels and shared fragments of the gitlab-ferry chart. */}}

{{- define "gitlab-ferry.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gitlab-ferry.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "gitlab-ferry.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gitlab-ferry.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gitlab-ferry.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "gitlab-ferry.labels" -}}
helm.sh/chart: {{ include "gitlab-ferry.chart" . }}
{{ include "gitlab-ferry.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gitlab-ferry
{{- end }}

{{- define "gitlab-ferry.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gitlab-ferry.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "gitlab-ferry.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Rules every mode grants in the namespaces the operator watches (the Role in each
     watched namespace, or the ClusterRole cluster-wide). Each rule is what the code calls:
     see README.md "RBAC". */}}
{{- define "gitlab-ferry.namespacedRules" -}}
# kopf lists and watches the three kinds; patches metadata (finalizer, kopf.gitlabferry.dev/*
# annotations); imports read their exportRef ProjectExport with get. A GroupMigration creates
# its ProjectExport/ProjectImport children and adopts orphaned ones (a metadata patch).
- apiGroups: ["gitlabferry.dev"]
  resources: ["projectexports"]
  verbs: ["get", "list", "watch", "patch", "create"]
- apiGroups: ["gitlabferry.dev"]
  resources: ["projectimports"]
  verbs: ["list", "watch", "patch", "create"]
- apiGroups: ["gitlabferry.dev"]
  resources: ["groupmigrations"]
  verbs: ["list", "watch", "patch"]
# The reconcilers write status through the status subresource (JSON merge patch).
- apiGroups: ["gitlabferry.dev"]
  resources: ["projectexports/status", "projectimports/status", "groupmigrations/status"]
  verbs: ["patch"]
# Children name their GroupMigration as owner with blockOwnerDeletion, which the API server
# allows only to who may update the owner's finalizers.
- apiGroups: ["gitlabferry.dev"]
  resources: ["groupmigrations/finalizers"]
  verbs: ["update"]
# GitLab tokens, CA bundles, upload URLs and S3 credentials: read one by one, never listed.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
# Plans and kopf's warnings are posted as core v1 Events (kopf only creates them).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end }}

{{- define "gitlab-ferry.peeringRule" -}}
- apiGroups: ["kopf.dev"]
  resources: [{{ . | quote }}]
  verbs: ["get", "list", "watch", "patch"]
{{- end }}
