"""Built-in plugins: one package each (segmentation, target_map, salon_events, loan_insurance, scorecards)."""
