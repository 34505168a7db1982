package toolhelp

// Report is the summary of headroomtool report.
const Report = "Evaluate the scaling guide's checklist, decision tree, cost, time to saturation and post-scaling targets over a range of history, from Prometheus or a file."
