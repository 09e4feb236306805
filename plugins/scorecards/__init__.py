"""绩效考核 (scorecards): KPI point rules, customer-manager grades, the monthly cycle (enter → compute → review →
lock), balanced scorecard, EVA, bancassurance KPIs and leaderboards — every rule set shipped as editable data
(spec R-72–R-98, R-35–R-39)."""

from plugins.scorecards.plugin import ScorecardsPlugin

plugin = ScorecardsPlugin()
