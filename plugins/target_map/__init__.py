"""金融生态图 (target_map): the outlet's map of surrounding enterprises (stock and target, R-02–R-05), outreach
Gantt plans with pre/during/post visit records (R-18), group marketing (R-20) and the three-week rollout (R-27)."""

from plugins.target_map.plugin import TargetMapPlugin

plugin = TargetMapPlugin()
