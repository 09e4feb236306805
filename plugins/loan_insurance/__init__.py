"""银保贷 (loan_insurance): SME credit secured by a mortgage, the part above the mortgage rate covered by guarantee
insurance — eligibility, documents, maker-checker workflow, default, claim and recovery (spec R-49–R-71)."""

from plugins.loan_insurance.plugin import LoanInsurancePlugin

plugin = LoanInsurancePlugin()
