// Package mixintest evaluates headroom's jsonnet mixin (mixin/*.libsonnet)
// with go-jsonnet, as a kube-prometheus user who vendored it with
// jsonnet-bundler would, and checks that it exposes exactly the generated
// rules, alerts and dashboards. It lives in the internal/tools module so that
// go-jsonnet stays out of the exporter's module.
package mixintest
