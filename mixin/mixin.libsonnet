// headroom's mixin: the default preset, health-agent. The amas preset is
// amas.libsonnet beside this file. See docs/jsonnet.md.
import 'health-agent.libsonnet'
