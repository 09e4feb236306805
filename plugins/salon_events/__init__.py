"""营销活动 (salon_events): 宝贝银行家, 游学, 理财沙龙, 产说会 — campaigns, outlet rounds, registration, the day,
results and printed certificates (spec R-28–R-34)."""

from plugins.salon_events.plugin import SalonEventsPlugin

plugin = SalonEventsPlugin()
