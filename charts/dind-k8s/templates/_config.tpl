{{/*
The scaler's configuration file (dind-k8s serve --config): github, kubernetes and runnerSets from the values, plus
what only the chart knows: where it mounts the Secrets, and the runner ServiceAccount for sets without their own.
*/}}

{{- define "dind-k8s.secretsDir" -}}/etc/dind-k8s/secrets{{- end -}}
{{- define "dind-k8s.configFile" -}}/etc/dind-k8s/config/config.yaml{{- end -}}

{{- define "dind-k8s.config" -}}
{{- $github := deepCopy .Values.github -}}
{{- $auth := deepCopy ($github.auth | default dict) -}}
{{- $dir := include "dind-k8s.secretsDir" . -}}
{{- if eq (include "dind-k8s.authKind" .) "app" -}}
{{- $_ := set $auth "privateKeyFile" (printf "%s/github/%s" $dir .Values.githubCredentials.privateKeyKey) -}}
{{- else -}}
{{- $_ := set $auth "tokenFile" (printf "%s/github/%s" $dir .Values.githubCredentials.tokenKey) -}}
{{- end -}}
{{- $_ := set $github "auth" $auth -}}
{{- if include "dind-k8s.webhookSecretSet" . -}}
{{- $_ := set $github "webhookSecretFile" (printf "%s/webhook/%s" $dir .Values.webhookSecret.key) -}}
{{- end -}}
{{- $sets := list -}}
{{- range .Values.runnerSets -}}
{{- $set := deepCopy . -}}
{{- if and $.Values.runnerServiceAccount.create (not $set.serviceAccountName) -}}
{{- $_ := set $set "serviceAccountName" (include "dind-k8s.runnerServiceAccountName" $) -}}
{{- end -}}
{{- $sets = append $sets $set -}}
{{- end -}}
{{- toYaml (dict "github" $github "kubernetes" .Values.kubernetes "runnerSets" $sets) -}}
{{- end -}}
