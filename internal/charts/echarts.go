package charts

import _ "embed"

// EChartsVersion is the ECharts release go-echarts v2.6.7 targets (its
// README's v5.4.3), taken from the npm registry by refresh-echarts.sh. Its
// script is written into every page, so that nothing is fetched when a page
// is opened; go-echarts would link its CDN.
const EChartsVersion = "5.4.3"

// echartsJS is ECharts' dist/echarts.min.js; its LICENSE and NOTICE lie
// beside it in echarts/.
//
//go:embed echarts/echarts.min.js
var echartsJS string
