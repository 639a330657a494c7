// Package checks holds no code of its own: its tests check the operator
// files under deploy/ (Prometheus alerts, Kubernetes manifests, the Grafana
// dashboard) against the binaries, and run kube-score (which
// scripts/deps.sh installs) on the Kubernetes manifests. It is a module of
// its own so that the heavy libraries those checks need (Prometheus's rule
// parser) stay out of the binaries' module; `make test` runs it. It is this
// project's code, not a public API.
package checks
