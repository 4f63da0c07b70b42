{{/* The chart name, unless overridden. */}}
{{- define "pdf-chatbot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object name prefix: the release name, with the chart name unless the release name already contains it. */}}
{{- define "pdf-chatbot.fullname" -}}
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

{{/* Labels that select the server's pods. */}}
{{- define "pdf-chatbot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pdf-chatbot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels on every object; the last three exist only in the chart's render. */}}
{{- define "pdf-chatbot.labels" -}}
{{ include "pdf-chatbot.selectorLabels" . }}
app.kubernetes.io/part-of: pdf-chatbot
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "pdf-chatbot.image" -}}
{{ printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{- define "pdf-chatbot.collectionClaim" -}}
{{ .Values.persistence.collection.existingClaim | default (printf "%s-collection" (include "pdf-chatbot.fullname" .)) }}
{{- end }}

{{- define "pdf-chatbot.documentsClaim" -}}
{{ .Values.persistence.documents.existingClaim | default (printf "%s-documents" (include "pdf-chatbot.fullname" .)) }}
{{- end }}

{{/* Environment shared by the server and the ingestion jobs: the collection and the language model. */}}
{{- define "pdf-chatbot.commonEnv" -}}
- name: RAG_COLLECTION
  value: /data/collection
- name: RAG_LOG_FORMAT
  value: {{ .Values.server.logFormat | quote }}
- name: RAG_LOG_LEVEL
  value: {{ .Values.server.logLevel | quote }}
- name: OPENAI_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.openai.secretName }}
      key: {{ .Values.openai.secretKey }}
      optional: {{ .Values.openai.optional }}
{{- with .Values.openai.baseURL }}
- name: OPENAI_BASE_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.openai.model }}
- name: RAG_LLM_MODEL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.openai.embeddingModel }}
- name: RAG_EMBEDDING_MODEL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The ingestion pod, shared by the CronJob and the one-off Job. Exit code 3 (some files failed) fails the Job
at once, without retries, so that the failure shows (kube_job_status_failed) instead of being retried away. */}}
{{- define "pdf-chatbot.ingestJobSpec" -}}
backoffLimit: {{ .Values.ingest.backoffLimit }}
activeDeadlineSeconds: {{ .Values.ingest.activeDeadlineSeconds }}
ttlSecondsAfterFinished: {{ .Values.ingest.ttlSecondsAfterFinished }}
podFailurePolicy:
  rules:
    - action: FailJob
      onExitCodes:
        containerName: ingest
        operator: In
        values: [3]
template:
  metadata:
    labels:
      {{- include "pdf-chatbot.labels" . | nindent 6 }}
      app.kubernetes.io/component: ingest
  spec:
    restartPolicy: Never
    automountServiceAccountToken: false
    {{- with .Values.imagePullSecrets }}
    imagePullSecrets:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    securityContext:
      {{- toYaml .Values.podSecurityContext | nindent 6 }}
    containers:
      - name: ingest
        image: {{ include "pdf-chatbot.image" . }}
        imagePullPolicy: {{ .Values.image.pullPolicy }}
        command: ["/usr/local/bin/rag"]
        args:
          - ingest
          {{- range .Values.ingest.paths }}
          - {{ . | quote }}
          {{- end }}
          - --collection
          - /data/collection
          {{- range .Values.ingest.extraArgs }}
          - {{ . | quote }}
          {{- end }}
        env:
          {{- include "pdf-chatbot.commonEnv" . | nindent 10 }}
        resources:
          {{- toYaml .Values.ingest.resources | nindent 10 }}
        securityContext:
          {{- toYaml .Values.securityContext | nindent 10 }}
        volumeMounts:
          - name: collection
            mountPath: /data/collection
          - name: documents
            mountPath: /data/documents
            readOnly: true
          - name: tmp
            mountPath: /tmp
    volumes:
      - name: collection
        persistentVolumeClaim:
          claimName: {{ include "pdf-chatbot.collectionClaim" . }}
      - name: documents
        persistentVolumeClaim:
          claimName: {{ include "pdf-chatbot.documentsClaim" . }}
          readOnly: true
      - name: tmp
        emptyDir:
          sizeLimit: 1Gi
{{- end }}
