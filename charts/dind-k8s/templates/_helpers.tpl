{{/* Names, labels and the values checks of the dind-k8s chart. Every named template is prefixed "dind-k8s.". */}}

{{- define "dind-k8s.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-<chart>, or the release name when it contains the chart name; 40 characters leave room for suffixes. */}}
{{- define "dind-k8s.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "dind-k8s.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "dind-k8s.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object of the release. */}}
{{- define "dind-k8s.commonLabels" -}}
helm.sh/chart: {{ include "dind-k8s.chart" . }}
app.kubernetes.io/name: {{ include "dind-k8s.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dind-k8s
{{- end -}}

{{/* Labels of the scaler's objects. Runner Pods carry app.kubernetes.io/component=runner; these say scaler. */}}
{{- define "dind-k8s.labels" -}}
{{ include "dind-k8s.commonLabels" . }}
app.kubernetes.io/component: scaler
{{- end -}}

{{- define "dind-k8s.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dind-k8s.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: scaler
{{- end -}}

{{- define "dind-k8s.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "dind-k8s.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "dind-k8s.runnerServiceAccountName" -}}
{{- default (printf "%s-runner" (include "dind-k8s.fullname" .)) .Values.runnerServiceAccount.name -}}
{{- end -}}

{{/* "true" when a webhook secret is given (existing or to create); empty otherwise (intake poll may go without). */}}
{{- define "dind-k8s.webhookSecretSet" -}}
{{- if or .Values.webhookSecret.existingSecret .Values.webhookSecret.value -}}true{{- end -}}
{{- end -}}

{{- define "dind-k8s.webhookSecretName" -}}
{{- default (printf "%s-webhook" (include "dind-k8s.fullname" .)) .Values.webhookSecret.existingSecret -}}
{{- end -}}

{{- define "dind-k8s.githubSecretName" -}}
{{- default (printf "%s-github" (include "dind-k8s.fullname" .)) .Values.githubCredentials.existingSecret -}}
{{- end -}}

{{/* "app" with github.auth.appId, "token" without. */}}
{{- define "dind-k8s.authKind" -}}
{{- if (.Values.github.auth | default dict).appId -}}app{{- else -}}token{{- end -}}
{{- end -}}

{{- define "dind-k8s.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The Pod Security level of the runner namespace: what every runner set's runtime profile needs. */}}
{{- define "dind-k8s.runnerPodSecurity" -}}
{{- $needed := "baseline" -}}
{{- range .Values.runnerSets -}}
{{- if ne ((.runtime | default dict).profile | default "privileged") "sysbox" -}}
{{- $needed = "privileged" -}}
{{- end -}}
{{- end -}}
{{- $level := .Values.runnerNamespace.podSecurity -}}
{{- if eq $level "auto" -}}
{{- $needed -}}
{{- else if and (eq $level "baseline") (eq $needed "privileged") -}}
{{- fail "runnerNamespace.podSecurity: baseline rejects the privileged dind of the privileged, kata and rootless profiles; use auto or privileged, or give every runner set runtime.profile: sysbox" -}}
{{- else -}}
{{- $level -}}
{{- end -}}
{{- end -}}

{{/*
Combinations the schema can't rule out. Each message names the keys and what to do. Included once, from the
Deployment, so `helm template` and `helm install` stop before anything is rendered.
*/}}
{{- define "dind-k8s.validate" -}}
{{- $webhook := .Values.webhookSecret -}}
{{- if and $webhook.existingSecret $webhook.value -}}
{{- fail "webhookSecret: set existingSecret (a Secret you created) or value (the chart creates one), not both" -}}
{{- end -}}
{{- if and (not (include "dind-k8s.webhookSecretSet" .)) (ne (.Values.github.intake | default "webhook") "poll") -}}
{{- fail (printf "webhookSecret: the scaler refuses unsigned webhooks (only github.intake poll needs none). Create a Secret (kubectl -n %s create secret generic dind-k8s-webhook --from-literal=webhook-secret=\"$(openssl rand -hex 32)\") and set webhookSecret.existingSecret=dind-k8s-webhook, or set webhookSecret.value" .Release.Namespace) -}}
{{- end -}}
{{- $github := .Values.github -}}
{{- if and $github.org $github.repo -}}
{{- fail (printf "github.org (%s) and github.repo (%s) are both set: runners register with one of them. Keep github.org for the organization's runners, or github.repo for one repository's, and remove the other" $github.org $github.repo) -}}
{{- end -}}
{{- if not (or $github.org $github.repo) -}}
{{- fail "github.org or github.repo is required: where the runners register. Set github.org=<organization>, or github.repo=<owner>/<name> for one repository" -}}
{{- end -}}
{{- $auth := $github.auth | default dict -}}
{{- if and $auth.installationId (not $auth.appId) -}}
{{- fail "github.auth.installationId is set without github.auth.appId: an installation belongs to a GitHub App. Set github.auth.appId too, or remove installationId to use a personal access token" -}}
{{- end -}}
{{- $creds := .Values.githubCredentials -}}
{{- $kind := include "dind-k8s.authKind" . -}}
{{- if and (eq $kind "token") (not $github.hookId) -}}
{{- fail "github.hookId is required with a personal access token (no github.auth.appId): the redelivery sweep lists the failed deliveries of that webhook. Set github.hookId to the number at the end of the webhook's settings URL (.../settings/hooks/<id>), or use a GitHub App (github.auth.appId), whose own hook needs none" -}}
{{- end -}}
{{- if $creds.existingSecret -}}
{{- if or $creds.privateKey $creds.token -}}
{{- fail "githubCredentials: set existingSecret or privateKey/token (the chart creates the Secret), not both" -}}
{{- end -}}
{{- else if eq $kind "app" -}}
{{- if $creds.token -}}
{{- fail "githubCredentials.token is set but github.auth.appId says GitHub App: give the App's key in githubCredentials.privateKey (or existingSecret), or remove github.auth.appId to use the token" -}}
{{- end -}}
{{- if not $creds.privateKey -}}
{{- fail (printf "github.auth.appId is set: the App's private key is missing. Create a Secret with key private-key (kubectl -n %s create secret generic dind-k8s-github --from-file=private-key=./app.pem) and set githubCredentials.existingSecret=dind-k8s-github, or set githubCredentials.privateKey" .Release.Namespace) -}}
{{- end -}}
{{- else -}}
{{- if $creds.privateKey -}}
{{- fail "githubCredentials.privateKey is set but github.auth.appId is not: set github.auth.appId for a GitHub App, or give a personal access token in githubCredentials.token" -}}
{{- end -}}
{{- if not $creds.token -}}
{{- fail "GitHub credentials are missing: set github.auth.appId and githubCredentials.privateKey (a GitHub App), or githubCredentials.token (a personal access token), or githubCredentials.existingSecret" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.runnerNamespace.create (eq .Values.kubernetes.namespace .Release.Namespace) -}}
{{- fail (printf "runnerNamespace.create: the runner namespace %s is the release namespace, which exists already; set runnerNamespace.create=false" .Values.kubernetes.namespace) -}}
{{- end -}}
{{- if and .Values.ingress.tlsSecretName (not .Values.ingress.host) -}}
{{- fail "ingress.tlsSecretName needs ingress.host: a certificate is for a host name" -}}
{{- end -}}
{{- if and .Values.service.nodePort (eq .Values.service.type "ClusterIP") -}}
{{- fail "service.nodePort needs service.type NodePort or LoadBalancer" -}}
{{- end -}}
{{- if and (not .Values.rbac.create) (not .Values.serviceAccount.create) (not .Values.serviceAccount.name) -}}
{{- fail "serviceAccount.name: with serviceAccount.create=false and rbac.create=false, name the ServiceAccount you bound to the scaler's permissions" -}}
{{- end -}}
{{- if and .Values.networkPolicy.egress (not .Values.networkPolicy.restrictEgress) -}}
{{- fail "networkPolicy.egress is set but networkPolicy.restrictEgress is false, so egress stays open: set restrictEgress=true to apply the rules" -}}
{{- end -}}
{{- $names := dict -}}
{{- range $i, $set := .Values.runnerSets -}}
{{- if hasKey $names $set.name -}}
{{- fail (printf "runnerSets[%d].name: %q again (runnerSets[%v] has it); runner set names prefix Pod names and must be unique" $i $set.name (get $names $set.name)) -}}
{{- end -}}
{{- $_ := set $names $set.name $i -}}
{{- if gt (int $set.minIdle) (int $set.maxRunners) -}}
{{- fail (printf "runnerSets[%d].minIdle: %v warm runners can't fit in maxRunners %v" $i $set.minIdle $set.maxRunners) -}}
{{- end -}}
{{- end -}}
{{- $_ := include "dind-k8s.runnerPodSecurity" . -}}
{{- /* On a live install (lookup is empty under helm template): another release's scaler in the runner namespace would share the Lease and the Pod names. */ -}}
{{- $bindings := lookup "rbac.authorization.k8s.io/v1" "RoleBinding" .Values.kubernetes.namespace "" -}}
{{- range ($bindings.items | default list) -}}
{{- $labels := .metadata.labels | default dict -}}
{{- $annotations := .metadata.annotations | default dict -}}
{{- $release := get $annotations "meta.helm.sh/release-name" -}}
{{- $releaseNamespace := get $annotations "meta.helm.sh/release-namespace" -}}
{{- if and (eq (get $labels "app.kubernetes.io/part-of") "dind-k8s") (eq (get $labels "app.kubernetes.io/component") "scaler") $release (or (ne $release $.Release.Name) (ne $releaseNamespace $.Release.Namespace)) -}}
{{- fail (printf "kubernetes.namespace: %s already has the runners of release %s (namespace %s); each release needs its own runner namespace (its Lease and Pod names are per namespace)" $.Values.kubernetes.namespace $release $releaseNamespace) -}}
{{- end -}}
{{- end -}}
{{- end -}}
