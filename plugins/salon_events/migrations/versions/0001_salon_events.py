"""salon_events plugin: campaigns, rounds, routes, invitations, registrations, steps, photos, certificates

Revision ID: 0001_salon_events
Revises:
Create Date: 2026-12-01 19:48:18.666587

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0001_salon_events'
down_revision = None
branch_labels = ('salon_events',)
depends_on = '0003_customer_profile'  # by hand (Flask-Migrate has no --depends-on): the core customer tables


def upgrade():
    op.create_table('salon_events_campaign',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('audience', sa.String(length=200), nullable=True),
    sa.Column('goal', sa.String(length=500), nullable=True),
    sa.Column('core_products', sa.String(length=300), nullable=True),
    sa.Column('partner', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=True),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('premium_cap', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], name=op.f('fk_salon_events_campaign_branch_id_branch')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_salon_events_campaign_created_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_salon_events_campaign'))
    )
    with op.batch_alter_table('salon_events_campaign', schema=None) as batch_op:
        batch_op.create_index('ix_salon_events_campaign_branch_id', ['branch_id', 'id'], unique=False)

    op.create_table('salon_events_campaign_outlet',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('outlet_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['salon_events_campaign.id'], name=op.f('fk_salon_events_campaign_outlet_campaign_id_salon_events_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlet.id'], name=op.f('fk_salon_events_campaign_outlet_outlet_id_outlet')),
    sa.PrimaryKeyConstraint('campaign_id', 'outlet_id', name=op.f('pk_salon_events_campaign_outlet'))
    )
    with op.batch_alter_table('salon_events_campaign_outlet', schema=None) as batch_op:
        batch_op.create_index('ix_salon_events_campaign_outlet_outlet_id', ['outlet_id'], unique=False)

    op.create_table('salon_events_cert_template',
    sa.Column('campaign_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('title', sa.String(length=50), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('footer', sa.String(length=200), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['salon_events_campaign.id'], name=op.f('fk_salon_events_cert_template_campaign_id_salon_events_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_salon_events_cert_template_updated_by_id_user_account')),
    sa.PrimaryKeyConstraint('campaign_id', name=op.f('pk_salon_events_cert_template'))
    )
    op.create_table('salon_events_route',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('market_price', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('member_price', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('grade_from', sa.String(length=4), nullable=False),
    sa.Column('grade_to', sa.String(length=4), nullable=False),
    sa.Column('departure_city', sa.String(length=50), nullable=True),
    sa.Column('depart_on', sa.Date(), nullable=False),
    sa.Column('return_on', sa.Date(), nullable=False),
    sa.Column('group_size', sa.Integer(), nullable=False),
    sa.Column('seats_taken', sa.Integer(), nullable=False),
    sa.Column('hotline', sa.String(length=100), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['salon_events_campaign.id'], name=op.f('fk_salon_events_route_campaign_id_salon_events_campaign'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_salon_events_route'))
    )
    with op.batch_alter_table('salon_events_route', schema=None) as batch_op:
        batch_op.create_index('ix_salon_events_route_campaign_id', ['campaign_id', 'position'], unique=False)

    op.create_table('salon_events_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('outlet_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('seats_taken', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('lobby_manager_id', sa.Integer(), nullable=True),
    sa.Column('rm_id', sa.Integer(), nullable=True),
    sa.Column('president_id', sa.Integer(), nullable=True),
    sa.Column('wealth_manager_id', sa.Integer(), nullable=True),
    sa.Column('partner_teacher', sa.String(length=100), nullable=True),
    sa.Column('note', sa.String(length=300), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['salon_events_campaign.id'], name=op.f('fk_salon_events_session_campaign_id_salon_events_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_salon_events_session_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['lobby_manager_id'], ['user_account.id'], name=op.f('fk_salon_events_session_lobby_manager_id_user_account')),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlet.id'], name=op.f('fk_salon_events_session_outlet_id_outlet')),
    sa.ForeignKeyConstraint(['president_id'], ['user_account.id'], name=op.f('fk_salon_events_session_president_id_user_account')),
    sa.ForeignKeyConstraint(['rm_id'], ['user_account.id'], name=op.f('fk_salon_events_session_rm_id_user_account')),
    sa.ForeignKeyConstraint(['wealth_manager_id'], ['user_account.id'], name=op.f('fk_salon_events_session_wealth_manager_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_salon_events_session'))
    )
    with op.batch_alter_table('salon_events_session', schema=None) as batch_op:
        batch_op.create_index('ix_salon_events_session_campaign_id', ['campaign_id', 'starts_at'], unique=False)
        batch_op.create_index('ix_salon_events_session_outlet_id', ['outlet_id', 'starts_at'], unique=False)
        batch_op.create_index('ix_salon_events_session_starts_at', ['starts_at'], unique=False)

    op.create_table('salon_events_signature',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('sub_branch_id', sa.Integer(), nullable=False),
    sa.Column('signer_id', sa.Integer(), nullable=False),
    sa.Column('image', sa.String(length=64), nullable=False),
    sa.Column('seal', sa.String(length=64), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['salon_events_campaign.id'], name=op.f('fk_salon_events_signature_campaign_id_salon_events_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['signer_id'], ['user_account.id'], name=op.f('fk_salon_events_signature_signer_id_user_account')),
    sa.ForeignKeyConstraint(['sub_branch_id'], ['branch.id'], name=op.f('fk_salon_events_signature_sub_branch_id_branch')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'], name=op.f('fk_salon_events_signature_uploaded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_salon_events_signature'))
    )
    with op.batch_alter_table('salon_events_signature', schema=None) as batch_op:
        batch_op.create_index('ix_salon_events_signature_campaign_id', ['campaign_id', 'sub_branch_id'], unique=False)

    op.create_table('salon_events_invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('outlet_id', sa.Integer(), nullable=False),
    sa.Column('invited_by_id', sa.Integer(), nullable=True),
    sa.Column('invited_at', sa.DateTime(), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['salon_events_campaign.id'], name=op.f('fk_salon_events_invitation_campaign_id_salon_events_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_salon_events_invitation_customer_id_customer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invited_by_id'], ['user_account.id'], name=op.f('fk_salon_events_invitation_invited_by_id_user_account')),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlet.id'], name=op.f('fk_salon_events_invitation_outlet_id_outlet')),
    sa.ForeignKeyConstraint(['session_id'], ['salon_events_session.id'], name=op.f('fk_salon_events_invitation_session_id_salon_events_session'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_salon_events_invitation')),
    sa.UniqueConstraint('campaign_id', 'customer_id', name='uq_salon_events_invitation_customer')
    )
    with op.batch_alter_table('salon_events_invitation', schema=None) as batch_op:
        batch_op.create_index('ix_salon_events_invitation_customer_id', ['customer_id'], unique=False)
        batch_op.create_index('ix_salon_events_invitation_outlet_id', ['outlet_id', 'campaign_id'], unique=False)

    op.create_table('salon_events_registration',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('route_id', sa.Integer(), nullable=True),
    sa.Column('outlet_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('family_member_id', sa.Integer(), nullable=True),
    sa.Column('child_name', sa.String(length=50), nullable=True),
    sa.Column('child_age', sa.Integer(), nullable=True),
    sa.Column('school_grade', sa.String(length=4), nullable=True),
    sa.Column('dedupe_key', sa.String(length=80), nullable=True),
    sa.Column('invited_by_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('reminded_at', sa.DateTime(), nullable=True),
    sa.Column('attended', sa.Boolean(), nullable=False),
    sa.Column('checked_in_at', sa.DateTime(), nullable=True),
    sa.Column('checked_in_by_id', sa.Integer(), nullable=True),
    sa.Column('card_opened', sa.Boolean(), nullable=False),
    sa.Column('policies', sa.Integer(), nullable=False),
    sa.Column('booked_premium', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('closing_result', sa.String(length=10), nullable=True),
    sa.Column('follow_up', sa.String(length=300), nullable=True),
    sa.Column('follow_up_on', sa.Date(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['salon_events_campaign.id'], name=op.f('fk_salon_events_registration_campaign_id_salon_events_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['checked_in_by_id'], ['user_account.id'], name=op.f('fk_salon_events_registration_checked_in_by_id_user_account')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_salon_events_registration_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_salon_events_registration_customer_id_customer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['family_member_id'], ['customer_family.id'], name=op.f('fk_salon_events_registration_family_member_id_customer_family'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['invited_by_id'], ['user_account.id'], name=op.f('fk_salon_events_registration_invited_by_id_user_account')),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlet.id'], name=op.f('fk_salon_events_registration_outlet_id_outlet')),
    sa.ForeignKeyConstraint(['route_id'], ['salon_events_route.id'], name=op.f('fk_salon_events_registration_route_id_salon_events_route'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['salon_events_session.id'], name=op.f('fk_salon_events_registration_session_id_salon_events_session'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_salon_events_registration')),
    sa.UniqueConstraint('campaign_id', 'dedupe_key', name='uq_salon_events_registration_dedupe')
    )
    with op.batch_alter_table('salon_events_registration', schema=None) as batch_op:
        batch_op.create_index('ix_salon_events_registration_customer_id', ['customer_id'], unique=False)
        batch_op.create_index('ix_salon_events_registration_outlet_id', ['outlet_id', 'campaign_id'], unique=False)
        batch_op.create_index('ix_salon_events_registration_route_id', ['route_id', 'status'], unique=False)
        batch_op.create_index('ix_salon_events_registration_session_id', ['session_id', 'status'], unique=False)

    op.create_table('salon_events_session_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('done_at', sa.DateTime(), nullable=False),
    sa.Column('done_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['done_by_id'], ['user_account.id'], name=op.f('fk_salon_events_session_step_done_by_id_user_account')),
    sa.ForeignKeyConstraint(['session_id'], ['salon_events_session.id'], name=op.f('fk_salon_events_session_step_session_id_salon_events_session'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_salon_events_session_step')),
    sa.UniqueConstraint('session_id', 'step', name='uq_salon_events_session_step')
    )
    op.create_table('salon_events_certificate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('outlet_id', sa.Integer(), nullable=False),
    sa.Column('child_name', sa.String(length=50), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('signer_name', sa.String(length=50), nullable=True),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('print_count', sa.Integer(), nullable=False),
    sa.Column('last_printed_at', sa.DateTime(), nullable=True),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['salon_events_campaign.id'], name=op.f('fk_salon_events_certificate_campaign_id_salon_events_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['issued_by_id'], ['user_account.id'], name=op.f('fk_salon_events_certificate_issued_by_id_user_account')),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlet.id'], name=op.f('fk_salon_events_certificate_outlet_id_outlet')),
    sa.ForeignKeyConstraint(['registration_id'], ['salon_events_registration.id'], name=op.f('fk_salon_events_certificate_registration_id_salon_events_registration'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['salon_events_session.id'], name=op.f('fk_salon_events_certificate_session_id_salon_events_session'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_salon_events_certificate')),
    sa.UniqueConstraint('number', name=op.f('uq_salon_events_certificate_number')),
    sa.UniqueConstraint('registration_id', name=op.f('uq_salon_events_certificate_registration_id')),
    sa.UniqueConstraint('token', name=op.f('uq_salon_events_certificate_token'))
    )
    with op.batch_alter_table('salon_events_certificate', schema=None) as batch_op:
        batch_op.create_index('ix_salon_events_certificate_campaign_id', ['campaign_id'], unique=False)
        batch_op.create_index('ix_salon_events_certificate_session_id', ['session_id'], unique=False)

    op.create_table('salon_events_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=True),
    sa.Column('outlet_id', sa.Integer(), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('thumb_name', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlet.id'], name=op.f('fk_salon_events_photo_outlet_id_outlet')),
    sa.ForeignKeyConstraint(['registration_id'], ['salon_events_registration.id'], name=op.f('fk_salon_events_photo_registration_id_salon_events_registration'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['salon_events_session.id'], name=op.f('fk_salon_events_photo_session_id_salon_events_session'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'], name=op.f('fk_salon_events_photo_uploaded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_salon_events_photo'))
    )
    with op.batch_alter_table('salon_events_photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_salon_events_photo_registration_id'), ['registration_id'], unique=False)
        batch_op.create_index('ix_salon_events_photo_session_id', ['session_id', 'id'], unique=False)

    op.create_table('salon_events_cert_print',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('certificate_id', sa.Integer(), nullable=True),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('printed_by_id', sa.Integer(), nullable=True),
    sa.Column('printed_at', sa.DateTime(), nullable=False),
    sa.Column('reprint', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['salon_events_campaign.id'], name=op.f('fk_salon_events_cert_print_campaign_id_salon_events_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['certificate_id'], ['salon_events_certificate.id'], name=op.f('fk_salon_events_cert_print_certificate_id_salon_events_certificate'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['printed_by_id'], ['user_account.id'], name=op.f('fk_salon_events_cert_print_printed_by_id_user_account')),
    sa.ForeignKeyConstraint(['session_id'], ['salon_events_session.id'], name=op.f('fk_salon_events_cert_print_session_id_salon_events_session'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_salon_events_cert_print'))
    )
    with op.batch_alter_table('salon_events_cert_print', schema=None) as batch_op:
        batch_op.create_index('ix_salon_events_cert_print_campaign_id', ['campaign_id', 'id'], unique=False)



def downgrade():
    with op.batch_alter_table('salon_events_cert_print', schema=None) as batch_op:
        batch_op.drop_index('ix_salon_events_cert_print_campaign_id')

    op.drop_table('salon_events_cert_print')
    with op.batch_alter_table('salon_events_photo', schema=None) as batch_op:
        batch_op.drop_index('ix_salon_events_photo_session_id')
        batch_op.drop_index(batch_op.f('ix_salon_events_photo_registration_id'))

    op.drop_table('salon_events_photo')
    with op.batch_alter_table('salon_events_certificate', schema=None) as batch_op:
        batch_op.drop_index('ix_salon_events_certificate_session_id')
        batch_op.drop_index('ix_salon_events_certificate_campaign_id')

    op.drop_table('salon_events_certificate')
    op.drop_table('salon_events_session_step')
    with op.batch_alter_table('salon_events_registration', schema=None) as batch_op:
        batch_op.drop_index('ix_salon_events_registration_session_id')
        batch_op.drop_index('ix_salon_events_registration_route_id')
        batch_op.drop_index('ix_salon_events_registration_outlet_id')
        batch_op.drop_index('ix_salon_events_registration_customer_id')

    op.drop_table('salon_events_registration')
    with op.batch_alter_table('salon_events_invitation', schema=None) as batch_op:
        batch_op.drop_index('ix_salon_events_invitation_outlet_id')
        batch_op.drop_index('ix_salon_events_invitation_customer_id')

    op.drop_table('salon_events_invitation')
    with op.batch_alter_table('salon_events_signature', schema=None) as batch_op:
        batch_op.drop_index('ix_salon_events_signature_campaign_id')

    op.drop_table('salon_events_signature')
    with op.batch_alter_table('salon_events_session', schema=None) as batch_op:
        batch_op.drop_index('ix_salon_events_session_starts_at')
        batch_op.drop_index('ix_salon_events_session_outlet_id')
        batch_op.drop_index('ix_salon_events_session_campaign_id')

    op.drop_table('salon_events_session')
    with op.batch_alter_table('salon_events_route', schema=None) as batch_op:
        batch_op.drop_index('ix_salon_events_route_campaign_id')

    op.drop_table('salon_events_route')
    op.drop_table('salon_events_cert_template')
    with op.batch_alter_table('salon_events_campaign_outlet', schema=None) as batch_op:
        batch_op.drop_index('ix_salon_events_campaign_outlet_outlet_id')

    op.drop_table('salon_events_campaign_outlet')
    with op.batch_alter_table('salon_events_campaign', schema=None) as batch_op:
        batch_op.drop_index('ix_salon_events_campaign_branch_id')

    op.drop_table('salon_events_campaign')
