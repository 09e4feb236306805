"""loan_insurance plugin: panel insurers, agreements, suspensions, cases with guarantors, shareholders, collateral,
documents, review and disbursement checklists, transitions, overrides, default events, measures, claims, recoveries

Revision ID: 0001_loan_insurance
Revises:
Create Date: 2026-12-02 00:15:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0001_loan_insurance'
down_revision = None
branch_labels = ('loan_insurance',)
depends_on = '0003_customer_profile'  # by hand (Flask-Migrate has no --depends-on): the core customer tables


def upgrade():
    op.create_table('loan_insurance_insurer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], name=op.f('fk_loan_insurance_insurer_branch_id_branch')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_loan_insurance_insurer_created_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_insurance_insurer'))
    )
    with op.batch_alter_table('loan_insurance_insurer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_insurance_insurer_branch_id'), ['branch_id'], unique=False)

    op.create_table('loan_insurance_agreement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('insurer_id', sa.Integer(), nullable=False),
    sa.Column('agreement_no', sa.String(length=50), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=False),
    sa.Column('premium_rate', sa.Numeric(precision=9, scale=6), nullable=False),
    sa.Column('mortgage_rate', sa.Numeric(precision=9, scale=6), nullable=False),
    sa.Column('waiting_days', sa.Integer(), nullable=False),
    sa.Column('collection_fee', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('insurer_recovery_share', sa.Numeric(precision=9, scale=6), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_loan_insurance_agreement_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['insurer_id'], ['loan_insurance_insurer.id'], name=op.f('fk_loan_insurance_agreement_insurer_id_loan_insurance_insurer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_insurance_agreement'))
    )
    with op.batch_alter_table('loan_insurance_agreement', schema=None) as batch_op:
        batch_op.create_index('ix_loan_insurance_agreement_insurer_id', ['insurer_id', 'valid_from'], unique=False)

    op.create_table('loan_insurance_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('outlet_id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('rm_id', sa.Integer(), nullable=True),
    sa.Column('application_date', sa.Date(), nullable=False),
    sa.Column('borrower_type', sa.String(length=12), nullable=False),
    sa.Column('has_account_at_outlet', sa.Boolean(), nullable=False),
    sa.Column('registered_with_aic', sa.Boolean(), nullable=False),
    sa.Column('registered_on', sa.Date(), nullable=True),
    sa.Column('main_shareholder_industry_years', sa.Numeric(precision=5, scale=1), nullable=True),
    sa.Column('clear_business_no_bad_record', sa.Boolean(), nullable=False),
    sa.Column('controller_no_bad_habits', sa.Boolean(), nullable=False),
    sa.Column('industry_kind', sa.String(length=16), nullable=False),
    sa.Column('legal_rep_name', sa.String(length=50), nullable=True),
    sa.Column('prohibited_1', sa.Boolean(), nullable=False),
    sa.Column('prohibited_2', sa.Boolean(), nullable=False),
    sa.Column('prohibited_3', sa.Boolean(), nullable=False),
    sa.Column('prohibited_4', sa.Boolean(), nullable=False),
    sa.Column('prohibited_5', sa.Boolean(), nullable=False),
    sa.Column('prohibited_6', sa.Boolean(), nullable=False),
    sa.Column('prohibited_7', sa.Boolean(), nullable=False),
    sa.Column('prohibited_8', sa.Boolean(), nullable=False),
    sa.Column('prohibited_9', sa.Boolean(), nullable=False),
    sa.Column('prohibited_10', sa.Boolean(), nullable=False),
    sa.Column('prohibited_note', sa.String(length=1000), nullable=True),
    sa.Column('use_of_funds', sa.String(length=300), nullable=True),
    sa.Column('use_is_working_capital', sa.Boolean(), nullable=False),
    sa.Column('product', sa.String(length=20), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('term_start', sa.Date(), nullable=True),
    sa.Column('term_end', sa.Date(), nullable=True),
    sa.Column('margin_amount', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('risk_rating', sa.String(length=20), nullable=True),
    sa.Column('agreement_id', sa.Integer(), nullable=True),
    sa.Column('policy_no', sa.String(length=50), nullable=True),
    sa.Column('insured_amount', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('policy_start', sa.Date(), nullable=True),
    sa.Column('policy_end', sa.Date(), nullable=True),
    sa.Column('policy_issued_on', sa.Date(), nullable=True),
    sa.Column('premium', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('premium_transfer_on', sa.Date(), nullable=True),
    sa.Column('bank_sole_beneficiary', sa.Boolean(), nullable=False),
    sa.Column('approved_insured_amount', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('prepared_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('checked_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agreement_id'], ['loan_insurance_agreement.id'], name=op.f('fk_loan_insurance_case_agreement_id_loan_insurance_agreement')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['user_account.id'], name=op.f('fk_loan_insurance_case_approved_by_id_user_account')),
    sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], name=op.f('fk_loan_insurance_case_branch_id_branch')),
    sa.ForeignKeyConstraint(['checked_by_id'], ['user_account.id'], name=op.f('fk_loan_insurance_case_checked_by_id_user_account')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_loan_insurance_case_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_loan_insurance_case_customer_id_customer')),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlet.id'], name=op.f('fk_loan_insurance_case_outlet_id_outlet')),
    sa.ForeignKeyConstraint(['prepared_by_id'], ['user_account.id'], name=op.f('fk_loan_insurance_case_prepared_by_id_user_account')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['user_account.id'], name=op.f('fk_loan_insurance_case_reviewed_by_id_user_account')),
    sa.ForeignKeyConstraint(['rm_id'], ['user_account.id'], name=op.f('fk_loan_insurance_case_rm_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_insurance_case'))
    )
    with op.batch_alter_table('loan_insurance_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_insurance_case_branch_id'), ['branch_id'], unique=False)
        batch_op.create_index('ix_loan_insurance_case_customer_id', ['customer_id'], unique=False)
        batch_op.create_index('ix_loan_insurance_case_outlet_id', ['outlet_id', 'status'], unique=False)
        batch_op.create_index('ix_loan_insurance_case_rm_id', ['rm_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loan_insurance_case_status'), ['status'], unique=False)

    op.create_table('loan_insurance_claim',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('waiting_period_end', sa.Date(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('submitted_on', sa.Date(), nullable=True),
    sa.Column('docs_complete_on', sa.Date(), nullable=True),
    sa.Column('insurer_deadline', sa.Date(), nullable=True),
    sa.Column('paid_on', sa.Date(), nullable=True),
    sa.Column('paid_amount', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('insurer_recovered', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['loan_insurance_case.id'], name=op.f('fk_loan_insurance_claim_case_id_loan_insurance_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_loan_insurance_claim_created_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_insurance_claim')),
    sa.UniqueConstraint('case_id', name=op.f('uq_loan_insurance_claim_case_id'))
    )
    op.create_table('loan_insurance_collateral',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('clear_title', sa.Boolean(), nullable=False),
    sa.Column('county_urban_area', sa.Boolean(), nullable=False),
    sa.Column('design_use', sa.String(length=12), nullable=True),
    sa.Column('build_year', sa.Integer(), nullable=True),
    sa.Column('completed_on', sa.Date(), nullable=True),
    sa.Column('last_transfer_on', sa.Date(), nullable=True),
    sa.Column('owner_is_minor', sa.Boolean(), nullable=False),
    sa.Column('in_demolition_zone', sa.Boolean(), nullable=False),
    sa.Column('illegal_building', sa.Boolean(), nullable=False),
    sa.Column('sealed_seized_supervised', sa.Boolean(), nullable=False),
    sa.Column('otherwise_non_mortgageable', sa.Boolean(), nullable=False),
    sa.Column('appraised_value', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('appraisal_report_no', sa.String(length=50), nullable=True),
    sa.Column('bank_sole_mortgagee', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['loan_insurance_case.id'], name=op.f('fk_loan_insurance_collateral_case_id_loan_insurance_case'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_insurance_collateral')),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('loan_insurance_collateral', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_insurance_collateral_case_id'), ['case_id'], unique=False)

    op.create_table('loan_insurance_default_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.Integer(), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['loan_insurance_case.id'], name=op.f('fk_loan_insurance_default_event_case_id_loan_insurance_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], name=op.f('fk_loan_insurance_default_event_recorded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_insurance_default_event'))
    )
    with op.batch_alter_table('loan_insurance_default_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_insurance_default_event_case_id'), ['case_id'], unique=False)

    op.create_table('loan_insurance_disbursement_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('item', sa.Integer(), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('checked_by_id', sa.Integer(), nullable=True),
    sa.Column('checked_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['loan_insurance_case.id'], name=op.f('fk_loan_insurance_disbursement_check_case_id_loan_insurance_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['checked_by_id'], ['user_account.id'], name=op.f('fk_loan_insurance_disbursement_check_checked_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_insurance_disbursement_check')),
    sa.UniqueConstraint('case_id', 'item', name='uq_loan_insurance_disbursement_check_item')
    )
    op.create_table('loan_insurance_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('label', sa.String(length=300), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('received', sa.Boolean(), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=True),
    sa.Column('stored_name', sa.String(length=64), nullable=True),
    sa.Column('received_by_id', sa.Integer(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['loan_insurance_case.id'], name=op.f('fk_loan_insurance_document_case_id_loan_insurance_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['received_by_id'], ['user_account.id'], name=op.f('fk_loan_insurance_document_received_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_insurance_document')),
    sa.UniqueConstraint('case_id', 'code', name='uq_loan_insurance_document_code')
    )
    op.create_table('loan_insurance_guarantor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('role', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('id_no', sa.String(length=18), nullable=True),
    sa.Column('married', sa.Boolean(), nullable=False),
    sa.Column('spouse_name', sa.String(length=50), nullable=True),
    sa.Column('spouse_id_no', sa.String(length=18), nullable=True),
    sa.Column('joint_liability', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['loan_insurance_case.id'], name=op.f('fk_loan_insurance_guarantor_case_id_loan_insurance_case'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_insurance_guarantor')),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('loan_insurance_guarantor', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_insurance_guarantor_case_id'), ['case_id'], unique=False)

    op.create_table('loan_insurance_override',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_loan_insurance_override_actor_id_user_account')),
    sa.ForeignKeyConstraint(['case_id'], ['loan_insurance_case.id'], name=op.f('fk_loan_insurance_override_case_id_loan_insurance_case'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_insurance_override'))
    )
    with op.batch_alter_table('loan_insurance_override', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_insurance_override_case_id'), ['case_id'], unique=False)

    op.create_table('loan_insurance_review_answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('item', sa.Integer(), nullable=False),
    sa.Column('answer', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('answered_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['answered_by_id'], ['user_account.id'], name=op.f('fk_loan_insurance_review_answer_answered_by_id_user_account')),
    sa.ForeignKeyConstraint(['case_id'], ['loan_insurance_case.id'], name=op.f('fk_loan_insurance_review_answer_case_id_loan_insurance_case'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_insurance_review_answer')),
    sa.UniqueConstraint('case_id', 'item', name='uq_loan_insurance_review_answer_item')
    )
    op.create_table('loan_insurance_shareholder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('share_pct', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('has_spouse', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['loan_insurance_case.id'], name=op.f('fk_loan_insurance_shareholder_case_id_loan_insurance_case'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_insurance_shareholder')),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('loan_insurance_shareholder', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_insurance_shareholder_case_id'), ['case_id'], unique=False)

    op.create_table('loan_insurance_transition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=True),
    sa.Column('to_status', sa.String(length=20), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_loan_insurance_transition_actor_id_user_account')),
    sa.ForeignKeyConstraint(['case_id'], ['loan_insurance_case.id'], name=op.f('fk_loan_insurance_transition_case_id_loan_insurance_case'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_insurance_transition'))
    )
    with op.batch_alter_table('loan_insurance_transition', schema=None) as batch_op:
        batch_op.create_index('ix_loan_insurance_transition_case_id', ['case_id', 'id'], unique=False)

    op.create_table('loan_insurance_measure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('default_event_id', sa.Integer(), nullable=True),
    sa.Column('measure', sa.String(length=20), nullable=False),
    sa.Column('taken_on', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['loan_insurance_case.id'], name=op.f('fk_loan_insurance_measure_case_id_loan_insurance_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['default_event_id'], ['loan_insurance_default_event.id'], name=op.f('fk_loan_insurance_measure_default_event_id_loan_insurance_default_event')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], name=op.f('fk_loan_insurance_measure_recorded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_insurance_measure'))
    )
    with op.batch_alter_table('loan_insurance_measure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_insurance_measure_case_id'), ['case_id'], unique=False)

    op.create_table('loan_insurance_recovery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('recovered_on', sa.Date(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('costs', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('insurer_share', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('bank_share', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('capped', sa.Boolean(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['loan_insurance_case.id'], name=op.f('fk_loan_insurance_recovery_case_id_loan_insurance_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['claim_id'], ['loan_insurance_claim.id'], name=op.f('fk_loan_insurance_recovery_claim_id_loan_insurance_claim')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], name=op.f('fk_loan_insurance_recovery_recorded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_insurance_recovery'))
    )
    with op.batch_alter_table('loan_insurance_recovery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_insurance_recovery_case_id'), ['case_id'], unique=False)

    op.create_table('loan_insurance_suspension',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('insurer_id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], name=op.f('fk_loan_insurance_suspension_branch_id_branch')),
    sa.ForeignKeyConstraint(['claim_id'], ['loan_insurance_claim.id'], name=op.f('fk_loan_insurance_suspension_claim_id_loan_insurance_claim')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_loan_insurance_suspension_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['insurer_id'], ['loan_insurance_insurer.id'], name=op.f('fk_loan_insurance_suspension_insurer_id_loan_insurance_insurer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_insurance_suspension'))
    )
    with op.batch_alter_table('loan_insurance_suspension', schema=None) as batch_op:
        batch_op.create_index('ix_loan_insurance_suspension_insurer_id', ['insurer_id', 'branch_id'], unique=False)


def downgrade():
    with op.batch_alter_table('loan_insurance_suspension', schema=None) as batch_op:
        batch_op.drop_index('ix_loan_insurance_suspension_insurer_id')

    op.drop_table('loan_insurance_suspension')
    with op.batch_alter_table('loan_insurance_recovery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_insurance_recovery_case_id'))

    op.drop_table('loan_insurance_recovery')
    with op.batch_alter_table('loan_insurance_measure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_insurance_measure_case_id'))

    op.drop_table('loan_insurance_measure')
    with op.batch_alter_table('loan_insurance_transition', schema=None) as batch_op:
        batch_op.drop_index('ix_loan_insurance_transition_case_id')

    op.drop_table('loan_insurance_transition')
    with op.batch_alter_table('loan_insurance_shareholder', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_insurance_shareholder_case_id'))

    op.drop_table('loan_insurance_shareholder')
    op.drop_table('loan_insurance_review_answer')
    with op.batch_alter_table('loan_insurance_override', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_insurance_override_case_id'))

    op.drop_table('loan_insurance_override')
    with op.batch_alter_table('loan_insurance_guarantor', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_insurance_guarantor_case_id'))

    op.drop_table('loan_insurance_guarantor')
    op.drop_table('loan_insurance_document')
    op.drop_table('loan_insurance_disbursement_check')
    with op.batch_alter_table('loan_insurance_default_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_insurance_default_event_case_id'))

    op.drop_table('loan_insurance_default_event')
    with op.batch_alter_table('loan_insurance_collateral', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_insurance_collateral_case_id'))

    op.drop_table('loan_insurance_collateral')
    op.drop_table('loan_insurance_claim')
    with op.batch_alter_table('loan_insurance_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_insurance_case_status'))
        batch_op.drop_index('ix_loan_insurance_case_rm_id')
        batch_op.drop_index('ix_loan_insurance_case_outlet_id')
        batch_op.drop_index('ix_loan_insurance_case_customer_id')
        batch_op.drop_index(batch_op.f('ix_loan_insurance_case_branch_id'))

    op.drop_table('loan_insurance_case')
    with op.batch_alter_table('loan_insurance_agreement', schema=None) as batch_op:
        batch_op.drop_index('ix_loan_insurance_agreement_insurer_id')

    op.drop_table('loan_insurance_agreement')
    with op.batch_alter_table('loan_insurance_insurer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_insurance_insurer_branch_id'))

    op.drop_table('loan_insurance_insurer')
