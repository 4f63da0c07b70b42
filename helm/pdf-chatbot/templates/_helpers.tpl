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

{{/* Where the collection lives: "url" (database.url), "secret" (database.existingSecret), "bundled" (the chart's
PostgreSQL StatefulSet) or "embedded" (SQLite in the collection volume, one pod). A database given by URL or Secret
switches the bundled PostgreSQL off. */}}
{{- define "pdf-chatbot.databaseMode" -}}
{{- if and .Values.database.url .Values.database.existingSecret -}}
{{- fail "database.url and database.existingSecret are alternatives: set one of them" -}}
{{- else if .Values.database.url -}}url
{{- else if .Values.database.existingSecret -}}secret
{{- else if .Values.postgresql.enabled -}}bundled
{{- else -}}embedded
{{- end -}}
{{- end }}

{{/* "true" when the collection is in a database (every replica may write, uploads are queued for the workers). */}}
{{- define "pdf-chatbot.hasDatabase" -}}
{{- ne (include "pdf-chatbot.databaseMode" .) "embedded" -}}
{{- end }}

{{/* The bundled PostgreSQL's object names (StatefulSet, Service, Secret). */}}
{{- define "pdf-chatbot.postgresqlName" -}}
{{- printf "%s-postgresql" (include "pdf-chatbot.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{/* The Secret and key that hold the database URL the pods read as a file (RAG_DATABASE_URL_FILE). */}}
{{- define "pdf-chatbot.databaseSecretName" -}}
{{- if eq (include "pdf-chatbot.databaseMode" .) "secret" -}}{{ .Values.database.existingSecret }}{{- else -}}{{ include "pdf-chatbot.postgresqlName" . }}{{- end -}}
{{- end }}
{{- define "pdf-chatbot.databaseSecretKey" -}}
{{- if eq (include "pdf-chatbot.databaseMode" .) "secret" -}}{{ .Values.database.secretKey }}{{- else -}}database-url{{- end -}}
{{- end }}

{{/* Redis (the shared response cache and rate limits): "url" (an external Redis, redis.url), "deploy" (the in-chart
Redis Deployment) or "off". */}}
{{- define "pdf-chatbot.redisMode" -}}
{{- if and .Values.redis.url .Values.redis.deploy.enabled -}}
{{- fail "redis.url and redis.deploy.enabled are alternatives: an external Redis or the in-chart one, set one of them" -}}
{{- else if .Values.redis.url -}}url
{{- else if .Values.redis.deploy.enabled -}}deploy
{{- else -}}off
{{- end -}}
{{- end }}

{{/* The in-chart Redis's object names (Deployment, Service, and the Secret the chart writes). */}}
{{- define "pdf-chatbot.redisName" -}}
{{- printf "%s-redis" (include "pdf-chatbot.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{/* Where the Redis password comes from: "secret" (redis.existingSecret), "externalSecret" (the Secret
externalSecrets.redisPassword writes), "chart" (the in-chart Redis's Secret, written by the chart) or "none" (an
external Redis without a password, or no Redis). */}}
{{- define "pdf-chatbot.redisPasswordSource" -}}
{{- $external := and .Values.externalSecrets.enabled .Values.externalSecrets.redisPassword.enabled -}}
{{- if and .Values.redis.existingSecret $external -}}
{{- fail "redis.existingSecret and externalSecrets.redisPassword are alternatives: externalSecrets.redisPassword writes the Secret the pods then read (externalSecrets.redisPassword.secretName, key secretKey); redis.existingSecret names one you create yourself. Set one of them" -}}
{{- else if .Values.redis.existingSecret -}}secret
{{- else if $external -}}externalSecret
{{- else if .Values.redis.deploy.enabled -}}chart
{{- else -}}none
{{- end -}}
{{- end }}

{{/* The Secret and key that hold the Redis password (mounted as RAG_REDIS_PASSWORD_FILE; the in-chart Redis reads
it too). */}}
{{- define "pdf-chatbot.redisPasswordSecretName" -}}
{{- if eq (include "pdf-chatbot.redisPasswordSource" .) "secret" -}}{{ .Values.redis.existingSecret }}{{- else -}}{{ include "pdf-chatbot.redisSecretName" . }}{{- end -}}
{{- end }}
{{- define "pdf-chatbot.redisPasswordSecretKey" -}}
{{- $source := include "pdf-chatbot.redisPasswordSource" . -}}
{{- if eq $source "secret" -}}{{ .Values.redis.existingSecretKey }}{{- else if eq $source "externalSecret" -}}{{ .Values.externalSecrets.redisPassword.secretKey }}{{- else -}}redis-password{{- end -}}
{{- end }}

{{/* "true" when the serving pods get a Redis password file. */}}
{{- define "pdf-chatbot.redisPassword" -}}
{{- and (ne (include "pdf-chatbot.redisMode" .) "off") (ne (include "pdf-chatbot.redisPasswordSource" .) "none") -}}
{{- end }}

{{/* The URL the serving pods connect to: redis.url, or the in-chart Redis's Service. Never a password. */}}
{{- define "pdf-chatbot.redisUrl" -}}
{{- if eq (include "pdf-chatbot.redisMode" .) "deploy" -}}{{ printf "redis://%s:6379/0" (include "pdf-chatbot.redisName" .) }}{{- else -}}{{ .Values.redis.url }}{{- end -}}
{{- end }}

{{/* Server autoscaling: autoscaling.enabled when set, else on with a database and off without (embedded SQLite
is opened by one pod only). */}}
{{- define "pdf-chatbot.autoscaling" -}}
{{- if kindIs "bool" .Values.autoscaling.enabled -}}{{ .Values.autoscaling.enabled }}{{- else -}}{{ include "pdf-chatbot.hasDatabase" . }}{{- end -}}
{{- end }}

{{/* Server replicas when the HPA does not own them: replicaCount when set, else 2 with a database and 1 without. */}}
{{- define "pdf-chatbot.replicas" -}}
{{- if kindIs "invalid" .Values.replicaCount -}}{{ ternary 2 1 (eq (include "pdf-chatbot.hasDatabase" .) "true") }}{{- else -}}{{ .Values.replicaCount | int }}{{- end -}}
{{- end }}

{{/* Whether the ingestion CronJob is rendered: ingest.cronJob.enabled when set, else only without a database (with
one, uploads through the API are queued and the workers ingest them). */}}
{{- define "pdf-chatbot.ingestCronJob" -}}
{{- if kindIs "bool" .Values.ingest.cronJob.enabled -}}{{ .Values.ingest.cronJob.enabled }}{{- else -}}{{ eq (include "pdf-chatbot.hasDatabase" .) "false" }}{{- end -}}
{{- end }}

{{/* Whether the worker Deployment is rendered: only with a database. */}}
{{- define "pdf-chatbot.workers" -}}
{{- and (eq (include "pdf-chatbot.hasDatabase" .) "true") .Values.worker.enabled -}}
{{- end }}

{{/* Stops the render on combinations that cannot work. */}}
{{- define "pdf-chatbot.validate" -}}
{{- $mode := include "pdf-chatbot.databaseMode" . -}}
{{- if eq $mode "embedded" -}}
{{- if eq (include "pdf-chatbot.autoscaling" .) "true" -}}
{{- fail "autoscaling.enabled=true needs a database: without one the collection is an SQLite file that only one pod may open (ReadWriteOnce volume, WAL on one node). Set database.url, database.existingSecret or postgresql.enabled=true, or leave autoscaling.enabled unset" -}}
{{- end -}}
{{- if gt (include "pdf-chatbot.replicas" . | int) 1 -}}
{{- fail (printf "replicaCount=%s needs a database: without one the collection is an SQLite file that only one pod may open (ReadWriteOnce volume, WAL on one node). Set database.url, database.existingSecret or postgresql.enabled=true, or replicaCount=1" (include "pdf-chatbot.replicas" .)) -}}
{{- end -}}
{{- end -}}
{{- if lt (int .Values.worker.terminationGracePeriodSeconds) (add (int .Values.worker.gracePeriod) (int .Values.preStopSleepSeconds) 5 | int) -}}
{{- fail "worker.terminationGracePeriodSeconds must be at least worker.gracePeriod + preStopSleepSeconds + 5: the worker needs its grace period to finish the job in hand" -}}
{{- end -}}
{{- if and (eq $mode "secret") (not .Values.database.secretKey) -}}
{{- fail "database.existingSecret needs database.secretKey: the key of that Secret that holds the database URL" -}}
{{- end -}}
{{- $redis := include "pdf-chatbot.redisMode" . -}}
{{- $redisPassword := include "pdf-chatbot.redisPasswordSource" . -}}
{{- if and (eq $redis "off") .Values.redis.existingSecret -}}
{{- fail "redis.existingSecret needs redis.url (an external Redis) or redis.deploy.enabled=true (the in-chart one): without Redis nothing reads the password" -}}
{{- end -}}
{{- if and .Values.redis.deploy.password (ne $redis "deploy") -}}
{{- fail "redis.deploy.password is the in-chart Redis's password (redis.deploy.enabled=true); an external Redis's password goes in a Secret, redis.existingSecret" -}}
{{- end -}}
{{- if and .Values.redis.deploy.password (ne $redisPassword "chart") -}}
{{- fail (printf "redis.deploy.password would be ignored: the password comes from %s. Leave redis.deploy.password empty" (ternary "redis.existingSecret" "externalSecrets.redisPassword" (eq $redisPassword "secret"))) -}}
{{- end -}}
{{- end }}

{{/* The database settings of rag-server (and the `rag` CLI): the URL as a file from a Secret (or, for development,
database.url in plain text), the pool size and the queue settings. `role` is api, worker or all. */}}
{{- define "pdf-chatbot.databaseEnv" -}}
{{- $ := .root -}}
{{- if eq (include "pdf-chatbot.databaseMode" $) "url" }}
- name: RAG_DATABASE_URL
  value: {{ $.Values.database.url | quote }}
{{- else }}
- name: RAG_DATABASE_URL_FILE
  value: /etc/pdf-chatbot/database/url
{{- end }}
- name: RAG_DATABASE_MAX_CONNECTIONS
  value: {{ $.Values.database.maxConnections | quote }}
- name: RAG_DATABASE_WAIT
  value: {{ $.Values.database.wait | quote }}
{{- end }}

{{/* Who processes uploads and how, in both modes: the role (api, worker or all), inline or queued uploads, the
workers' lease, concurrency and attempts, and the read-your-writes wait. */}}
{{- define "pdf-chatbot.ingestionEnv" -}}
{{- $ := .root -}}
- name: RAG_ROLE
  value: {{ .role | quote }}
- name: RAG_UPLOAD_MODE
  value: {{ $.Values.server.uploadMode | quote }}
- name: RAG_JOB_LEASE
  value: {{ $.Values.worker.jobLease | quote }}
- name: RAG_WORKER_CONCURRENCY
  value: {{ $.Values.worker.concurrency | quote }}
- name: RAG_JOB_ATTEMPTS
  value: {{ $.Values.worker.jobAttempts | quote }}
- name: RAG_INDEX_WAIT
  value: {{ $.Values.database.indexWait | quote }}
{{- end }}

{{/* The volume that carries the database URL file (nothing with database.url). */}}
{{- define "pdf-chatbot.databaseVolume" -}}
{{- if ne (include "pdf-chatbot.databaseMode" .) "url" }}
- name: database
  secret:
    secretName: {{ include "pdf-chatbot.databaseSecretName" . }}
    defaultMode: 0440
    items:
      - key: {{ include "pdf-chatbot.databaseSecretKey" . }}
        path: url
{{- end }}
{{- end }}
{{- define "pdf-chatbot.databaseVolumeMount" -}}
{{- if ne (include "pdf-chatbot.databaseMode" .) "url" }}
- name: database
  mountPath: /etc/pdf-chatbot/database
  readOnly: true
{{- end }}
{{- end }}

{{/* Environment shared by the server, the workers and the ingestion jobs: the collection (embedded mode) and the
language model. */}}
{{- define "pdf-chatbot.commonEnv" -}}
{{- if eq (include "pdf-chatbot.hasDatabase" .) "false" -}}
- name: RAG_COLLECTION
  value: /data/collection
{{ end -}}
- name: RAG_LOG_FORMAT
  value: {{ .Values.server.logFormat | quote }}
- name: RAG_LOG_LEVEL
  value: {{ .Values.server.logLevel | quote }}
{{- /* OCR: the servers and workers read uploads, and `rag ingest` (the ingestion jobs) reads the same variables. */}}
- name: RAG_OCR
  value: {{ .Values.server.ocr.mode | quote }}
- name: RAG_OCR_LANGUAGES
  value: {{ .Values.server.ocr.languages | quote }}
- name: RAG_OCR_DPI
  value: {{ .Values.server.ocr.dpi | int64 | quote }}
- name: RAG_OCR_MAX_PAGES
  value: {{ .Values.server.ocr.maxPages | int64 | quote }}
- name: RAG_OCR_PAGE_TIMEOUT
  value: {{ .Values.server.ocr.pageTimeoutSeconds | int64 | quote }}
- name: RAG_OCR_MIN_CONFIDENCE
  value: {{ .Values.server.ocr.minConfidence | int64 | quote }}
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
    {{- if eq (include "pdf-chatbot.hasDatabase" .) "false" }}
    # The SQLite collection (WAL) may only be opened on the node whose pod holds it: run beside the server.
    affinity:
      podAffinity:
        requiredDuringSchedulingIgnoredDuringExecution:
          - topologyKey: kubernetes.io/hostname
            labelSelector:
              matchLabels:
                {{- include "pdf-chatbot.selectorLabels" . | nindent 16 }}
                app.kubernetes.io/component: server
    {{- end }}
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
          {{- if eq (include "pdf-chatbot.hasDatabase" .) "true" }}
          - --database-url
          - $(RAG_DATABASE_URL)
          {{- else }}
          - --collection
          - /data/collection
          {{- end }}
          {{- range .Values.ingest.extraArgs }}
          - {{ . | quote }}
          {{- end }}
        env:
          {{- include "pdf-chatbot.commonEnv" . | nindent 10 }}
          {{- $mode := include "pdf-chatbot.databaseMode" . }}
          {{- if eq $mode "url" }}
          - name: RAG_DATABASE_URL
            value: {{ .Values.database.url | quote }}
          {{- else if ne $mode "embedded" }}
          # Expanded into --database-url by Kubernetes; the value never appears in the Job's spec.
          - name: RAG_DATABASE_URL
            valueFrom:
              secretKeyRef:
                name: {{ include "pdf-chatbot.databaseSecretName" . }}
                key: {{ include "pdf-chatbot.databaseSecretKey" . }}
          {{- end }}
        resources:
          {{- toYaml .Values.ingest.resources | nindent 10 }}
        securityContext:
          {{- toYaml .Values.securityContext | nindent 10 }}
        volumeMounts:
          {{- if eq (include "pdf-chatbot.hasDatabase" .) "false" }}
          - name: collection
            mountPath: /data/collection
          {{- end }}
          - name: documents
            mountPath: /data/documents
            readOnly: true
          - name: tmp
            mountPath: /tmp
    volumes:
      {{- if eq (include "pdf-chatbot.hasDatabase" .) "false" }}
      - name: collection
        persistentVolumeClaim:
          claimName: {{ include "pdf-chatbot.collectionClaim" . }}
      {{- end }}
      - name: documents
        persistentVolumeClaim:
          claimName: {{ include "pdf-chatbot.documentsClaim" . }}
          readOnly: true
      - name: tmp
        emptyDir:
          sizeLimit: 1Gi
{{- end }}

{{/* rag-server's settings, for the serving Deployment and the workers: dict "root" $ "role" api|worker|all
"gracePeriod" seconds. */}}
{{- define "pdf-chatbot.serverEnv" -}}
{{- $ := .root }}
{{- include "pdf-chatbot.commonEnv" $ }}
- name: RAG_HOST
  value: 0.0.0.0
- name: RAG_PORT
  value: "8501"
- name: RAG_METRICS_PORT
  value: "8502"
{{- if eq (include "pdf-chatbot.hasDatabase" $) "true" }}
{{- include "pdf-chatbot.databaseEnv" (dict "root" $ "role" .role) }}
{{- else }}
- name: RAG_READ_ONLY
  value: {{ $.Values.server.readOnly | quote }}
{{- end }}
{{ include "pdf-chatbot.ingestionEnv" (dict "root" $ "role" .role) }}
- name: RAG_RELOAD_INTERVAL
  value: {{ $.Values.server.reloadInterval | quote }}
- name: RAG_GRACE_PERIOD
  value: {{ .gracePeriod | quote }}
- name: RAG_REQUEST_TIMEOUT
  value: {{ $.Values.server.requestTimeout | quote }}
- name: RAG_IDLE_TIMEOUT
  value: {{ $.Values.server.idleTimeout | quote }}
- name: RAG_HEADER_TIMEOUT
  value: {{ $.Values.server.headerTimeout | quote }}
- name: RAG_BODY_TIMEOUT
  value: {{ $.Values.server.bodyTimeout | quote }}
- name: RAG_RATE_LIMIT
  value: {{ $.Values.server.rateLimit | quote }}
- name: RAG_RATE_BURST
  value: {{ $.Values.server.rateBurst | quote }}
- name: RAG_AUTH_FAILURE_LIMIT
  value: {{ $.Values.server.authFailureLimit | quote }}
{{- with $.Values.server.trustedProxies }}
- name: RAG_TRUSTED_PROXIES
  value: {{ . | quote }}
{{- end }}
- name: RAG_FORWARDED_HEADER
  value: {{ $.Values.server.forwardedHeader | quote }}
- name: RAG_MAX_CONCURRENT_LLM
  value: {{ $.Values.server.maxConcurrentLLM | quote }}
- name: RAG_LLM_QUEUE
  value: {{ $.Values.server.llmQueue | quote }}
- name: RAG_MAX_CONCURRENT_UPLOADS
  value: {{ $.Values.server.maxConcurrentUploads | quote }}
- name: RAG_UPLOAD_QUEUE
  value: {{ $.Values.server.uploadQueue | quote }}
- name: RAG_MAX_HISTORY_MESSAGES
  value: {{ $.Values.server.maxHistoryMessages | int64 | quote }}
- name: RAG_MAX_HISTORY_BYTES
  value: {{ $.Values.server.maxHistoryBytes | int64 | quote }}
- name: RAG_METRICS_CACHE
  value: {{ $.Values.server.metricsCache | quote }}
- name: RAG_MAX_UPLOAD_BYTES
  value: {{ $.Values.server.maxUploadBytes | int64 | quote }}
- name: RAG_MAX_FORM_PARTS
  value: {{ $.Values.server.maxFormParts | int64 | quote }}
- name: RAG_MAX_PART_HEADER_BYTES
  value: {{ $.Values.server.maxPartHeaderBytes | int64 | quote }}
- name: RAG_MAX_PAGES
  value: {{ $.Values.server.maxPages | int64 | quote }}
- name: RAG_MAX_CHARACTERS
  value: {{ $.Values.server.maxCharacters | int64 | quote }}
- name: RAG_MAX_CHARACTERS_PER_BYTE
  value: {{ $.Values.server.maxCharactersPerByte | quote }}
- name: RAG_MIN_CHARACTER_ALLOWANCE
  value: {{ $.Values.server.minCharacterAllowance | int64 | quote }}
- name: RAG_MAX_COLLECTION_CHUNKS
  value: {{ $.Values.server.maxCollectionChunks | int64 | quote }}
- name: RAG_PAGE_IMAGE_WIDTH
  value: {{ $.Values.server.pageImageWidth | int64 | quote }}
- name: RAG_PAGE_IMAGE_MIN_WIDTH
  value: {{ $.Values.server.pageImageMinWidth | int64 | quote }}
- name: RAG_PAGE_IMAGE_MAX_WIDTH
  value: {{ $.Values.server.pageImageMaxWidth | int64 | quote }}
- name: RAG_PAGE_IMAGE_MAX_PIXELS
  value: {{ $.Values.server.pageImageMaxPixels | int64 | quote }}
- name: RAG_PAGE_IMAGE_MAX_CHARACTERS
  value: {{ $.Values.server.pageImageMaxCharacters | int64 | quote }}
- name: RAG_PAGE_IMAGE_TIMEOUT
  value: {{ $.Values.server.pageImageTimeout | quote }}
- name: RAG_MAX_CONCURRENT_RENDERS
  value: {{ $.Values.server.maxConcurrentRenders | int64 | quote }}
- name: RAG_RENDER_QUEUE
  value: {{ $.Values.server.renderQueue | int64 | quote }}
- name: RAG_PAGE_CACHE_BYTES
  value: {{ $.Values.server.pageCacheBytes | int64 | quote }}
- name: RAG_LLM
  value: {{ $.Values.server.llm | quote }}
- name: RAG_RETRIEVAL
  value: {{ $.Values.server.retrieval | quote }}
- name: RAG_FUSION
  value: {{ $.Values.server.fusion | quote }}
- name: RAG_PAGE_FUSION
  value: {{ $.Values.server.pageFusion | quote }}
- name: RAG_NEIGHBOURS
  value: {{ $.Values.server.neighbours | quote }}
- name: RAG_MIN_SCORE
  value: {{ $.Values.server.minScore | quote }}
- name: RAG_QUERY_REWRITES
  value: {{ $.Values.server.queryRewrites | quote }}
- name: RAG_HYPOTHETICAL_ANSWER
  value: {{ $.Values.server.hypotheticalAnswer | quote }}
- name: RAG_VECTOR_FORMAT
  value: {{ $.Values.server.vectorFormat | quote }}
- name: RAG_VECTOR_STORAGE
  value: {{ $.Values.server.vectorStorage | quote }}
- name: RAG_ENCODER_PRECISION
  value: {{ $.Values.server.encoderPrecision | quote }}
{{- with $.Values.server.corsOrigin }}
- name: RAG_CORS_ORIGIN
  value: {{ . | quote }}
{{- end }}
{{- if $.Values.apiKeys.secretName }}
- name: RAG_API_KEYS_FILE
  value: /etc/pdf-chatbot/api-keys/{{ $.Values.apiKeys.secretKey }}
{{- end }}
{{- if ne .role "worker" }}
{{- include "pdf-chatbot.redisEnv" $ }}
{{- end }}
{{- end }}

{{/* The Redis settings of the serving replicas (nothing without Redis): the URL (no password in it), the password as
a file from a Secret, the client's bounds and the cache. The workers take no requests: they get none of it. */}}
{{- define "pdf-chatbot.redisEnv" -}}
{{- if ne (include "pdf-chatbot.redisMode" .) "off" }}
- name: RAG_REDIS_URL
  value: {{ include "pdf-chatbot.redisUrl" . | quote }}
{{- if eq (include "pdf-chatbot.redisPassword" .) "true" }}
- name: RAG_REDIS_PASSWORD_FILE
  value: /etc/pdf-chatbot/redis/password
{{- end }}
- name: RAG_REDIS_TIMEOUT
  value: {{ .Values.redis.timeout | quote }}
- name: RAG_REDIS_CONNECT_TIMEOUT
  value: {{ .Values.redis.connectTimeout | quote }}
- name: RAG_REDIS_CONNECTIONS
  value: {{ .Values.redis.connections | int64 | quote }}
- name: RAG_REDIS_KEY_PREFIX
  value: {{ .Values.redis.keyPrefix | quote }}
- name: RAG_CACHE
  value: {{ ternary "on" "off" .Values.server.cache.enabled | quote }}
- name: RAG_CACHE_TTL
  value: {{ .Values.server.cache.ttl | int64 | quote }}
- name: RAG_CACHE_EMBEDDING_TTL
  value: {{ .Values.server.cache.embeddingTtl | int64 | quote }}
- name: RAG_CACHE_MAX_ENTRY_BYTES
  value: {{ .Values.server.cache.maxEntryBytes | int64 | quote }}
{{- end }}
{{- end }}

{{/* prometheus-adapter's external rule for rag_ingest_queue_depth (also in docs/deployment.md). */}}
{{- define "pdf-chatbot.adapterRules" -}}
externalRules:
  - seriesQuery: 'rag_ingest_queue_depth{job="{{ include "pdf-chatbot.name" . }}",namespace!=""}'
    resources:
      overrides:
        namespace: {resource: namespace}
    name:
      as: rag_ingest_queue_depth
    metricsQuery: 'max by (<<.GroupBy>>) (<<.Series>>{<<.LabelMatchers>>})'
{{- end }}

{{/* The Secret that holds the Redis password when externalSecrets.redisPassword writes it or the chart does (the
in-chart Redis without redis.existingSecret): externalSecrets.redisPassword.secretName, else <fullname>-redis. */}}
{{- define "pdf-chatbot.redisSecretName" -}}
{{- .Values.externalSecrets.redisPassword.secretName | default (include "pdf-chatbot.redisName" .) -}}
{{- end }}

{{/* The ExternalSecrets to render, as JSON: a list of {id, name, key, remoteRef}, where name and key are the Secret
and key the pods read (openai.*, database.*, apiKeys.*), so that the two cannot differ. Fails on values that would
write a Secret nothing reads (but the Redis password, which may be in place before Redis is switched on), or one the
chart itself writes (with it on, the in-chart Redis's password Secret is not rendered). */}}
{{- define "pdf-chatbot.externalSecrets" -}}
{{- $es := .Values.externalSecrets -}}
{{- $out := list -}}
{{- if $es.enabled -}}
{{- if not $es.storeRef.name -}}
{{- fail "externalSecrets.enabled=true needs externalSecrets.storeRef.name: the SecretStore or ClusterSecretStore that reads the secret manager (docs/secrets.md)" -}}
{{- end -}}
{{- if $es.openaiApiKey.enabled -}}
{{- $out = append $out (dict "id" "openai-api-key" "name" .Values.openai.secretName "key" .Values.openai.secretKey "remoteRef" $es.openaiApiKey.remoteRef) -}}
{{- end -}}
{{- if $es.databaseUrl.enabled -}}
{{- if ne (include "pdf-chatbot.databaseMode" .) "secret" -}}
{{- fail "externalSecrets.databaseUrl needs database.existingSecret (an external PostgreSQL whose URL the pods read from that Secret): with database.url, the bundled PostgreSQL (it writes its own Secret) or no database there is no URL Secret to write" -}}
{{- end -}}
{{- $out = append $out (dict "id" "database-url" "name" .Values.database.existingSecret "key" .Values.database.secretKey "remoteRef" $es.databaseUrl.remoteRef) -}}
{{- end -}}
{{- if $es.apiKeys.enabled -}}
{{- if not .Values.apiKeys.secretName -}}
{{- fail "externalSecrets.apiKeys needs apiKeys.secretName: the Secret the pods mount as RAG_API_KEYS_FILE (empty: the API needs no key, so nothing would read it)" -}}
{{- end -}}
{{- $out = append $out (dict "id" "api-keys" "name" .Values.apiKeys.secretName "key" .Values.apiKeys.secretKey "remoteRef" $es.apiKeys.remoteRef) -}}
{{- end -}}
{{- if $es.redisPassword.enabled -}}
{{- $out = append $out (dict "id" "redis-password" "name" (include "pdf-chatbot.redisSecretName" .) "key" $es.redisPassword.secretKey "remoteRef" $es.redisPassword.remoteRef) -}}
{{- end -}}
{{- if not $out -}}
{{- fail "externalSecrets.enabled=true but no secret is switched on: set externalSecrets.openaiApiKey.enabled, databaseUrl.enabled, apiKeys.enabled or redisPassword.enabled" -}}
{{- end -}}
{{- $seen := dict -}}
{{- range $out -}}
{{- if hasKey $seen .name -}}
{{- fail (printf "externalSecrets: %s and %s both write Secret %q; each Secret can be owned by one ExternalSecret only: give them different Secrets" (get $seen .name) .id .name) -}}
{{- end -}}
{{- $_ := set $seen .name .id -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end }}
