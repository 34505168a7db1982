#!/usr/bin/env bash
# Replaces the ECharts script embedded in internal/charts, with its LICENSE
# and NOTICE, by the release EChartsVersion (echarts.go) pins, from the npm
# registry (npm pack checks the tarball against the registry's integrity).
# After bumping go-echarts, pin the ECharts release it targets and run this
# (make echarts); TestEmbeddedEChartsIsThePinnedRelease checks the result.
set -euo pipefail
cd "$(dirname "$0")"
version=$(sed -n 's/^const EChartsVersion = "\(.*\)"$/\1/p' echarts.go)
if [ -z "$version" ]; then
  echo "refresh-echarts.sh: no EChartsVersion constant in internal/charts/echarts.go" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "echarts@$version" >/dev/null && tar xzf "echarts-$version.tgz")
cp "$tmp/package/dist/echarts.min.js" "$tmp/package/LICENSE" "$tmp/package/NOTICE" echarts/
echo "internal/charts/echarts: ECharts $version ($(wc -c <echarts/echarts.min.js) bytes)"
