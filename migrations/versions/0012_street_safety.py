"""street safety: checklist templates, structural permits, inspections and answers, rectification orders,
certificates and their serial numbers, each street's safety settings

Nothing is filled in here: a street's settings and default checklist (DOMAIN.md's S01–S16) are made the
first time the street office needs them (merchant_alliance.safety.checklists).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 21:25:11.079665

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

# The officer's home reads only certificates in force and orders not yet closed: partial indexes of those.
CURRENT = "superseded_by_id IS NULL AND revoked_at IS NULL"
OPEN = "state != 'closed'"


def upgrade():
    op.create_table('certificate_sequences',
    sa.Column('street_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['street_id'], ['streets.id'], name=op.f('fk_certificate_sequences_street_id_streets')),
    sa.PrimaryKeyConstraint('street_id', 'year', name=op.f('pk_certificate_sequences'))
    )
    op.create_table('checklist_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('street_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_checklist_templates_created_by_id_users')),
    sa.ForeignKeyConstraint(['street_id'], ['streets.id'], name=op.f('fk_checklist_templates_street_id_streets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checklist_templates')),
    sa.UniqueConstraint('street_id', 'version', name=op.f('uq_checklist_templates_street_id_version'))
    )
    with op.batch_alter_table('checklist_templates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checklist_templates_street_id'), ['street_id'], unique=False)

    op.create_table('safety_settings',
    sa.Column('street_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('validity_days', sa.Integer(), nullable=False),
    sa.Column('critical_days', sa.Integer(), nullable=False),
    sa.Column('major_days', sa.Integer(), nullable=False),
    sa.Column('minor_days', sa.Integer(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['street_id'], ['streets.id'], name=op.f('fk_safety_settings_street_id_streets')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_safety_settings_updated_by_id_users')),
    sa.UniqueConstraint('code', name=op.f('uq_safety_settings_code')),
    sa.PrimaryKeyConstraint('street_id', name=op.f('pk_safety_settings'))
    )
    op.create_table('checklist_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=10), nullable=False),
    sa.Column('text_zh', sa.String(length=200), nullable=False),
    sa.Column('text_en', sa.String(length=200), nullable=False),
    sa.Column('severity', sa.Enum('critical', 'major', 'minor', name='severity', native_enum=False, length=10), nullable=False),
    sa.Column('photo_required', sa.Boolean(), nullable=False),
    sa.Column('applies_to', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['template_id'], ['checklist_templates.id'], name=op.f('fk_checklist_items_template_id_checklist_templates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checklist_items')),
    sa.UniqueConstraint('template_id', 'code', name=op.f('uq_checklist_items_template_id_code'))
    )
    with op.batch_alter_table('checklist_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checklist_items_template_id'), ['template_id'], unique=False)

    op.create_table('inspections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signboard_id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('alliance_id', sa.Integer(), nullable=False),
    sa.Column('street_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.Column('rectification_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Enum('acceptance', 'periodic', 'follow_up', 'reinspection', name='inspectionkind', native_enum=False, length=20), nullable=False),
    sa.Column('state', sa.Enum('open', 'passed', 'failed', 'cancelled', name='inspectionstate', native_enum=False, length=20), nullable=False),
    sa.Column('sign_type', sa.String(length=20), nullable=False),
    sa.Column('illuminated', sa.Boolean(), nullable=False),
    sa.Column('exception_reason', sa.Text(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('started_by_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('completed_by_id', sa.Integer(), nullable=True),
    sa.Column('completed_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['alliance_id'], ['alliances.id'], name=op.f('fk_inspections_alliance_id_alliances')),
    sa.ForeignKeyConstraint(['completed_by_id'], ['users.id'], name=op.f('fk_inspections_completed_by_id_users')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_inspections_project_id_projects')),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_inspections_shop_id_shops')),
    sa.ForeignKeyConstraint(['signboard_id'], ['signboards.id'], name=op.f('fk_inspections_signboard_id_signboards')),
    sa.ForeignKeyConstraint(['started_by_id'], ['users.id'], name=op.f('fk_inspections_started_by_id_users')),
    sa.ForeignKeyConstraint(['street_id'], ['streets.id'], name=op.f('fk_inspections_street_id_streets')),
    sa.ForeignKeyConstraint(['template_id'], ['checklist_templates.id'], name=op.f('fk_inspections_template_id_checklist_templates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspections'))
    )
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspections_alliance_id'), ['alliance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspections_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspections_shop_id'), ['shop_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspections_signboard_id'), ['signboard_id'], unique=False)
        batch_op.create_index('ix_inspections_street_state', ['street_id', 'state'], unique=False)

    op.create_table('permits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('alliance_id', sa.Integer(), nullable=False),
    sa.Column('street_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('requested', 'granted', 'denied', 'district_required', name='permitstate', native_enum=False, length=20), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('fixing_method', sa.String(length=200), nullable=False),
    sa.Column('host_wall', sa.String(length=200), nullable=False),
    sa.Column('width_m', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('height_m', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('projection_m', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('clearance_m', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('top_height_m', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('weight_kg', sa.Numeric(precision=8, scale=1), nullable=False),
    sa.Column('illuminated', sa.Boolean(), nullable=False),
    sa.Column('wiring', sa.Text(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('district_number', sa.String(length=60), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['alliance_id'], ['alliances.id'], name=op.f('fk_permits_alliance_id_alliances')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_permits_decided_by_id_users')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_permits_project_id_projects')),
    sa.ForeignKeyConstraint(['street_id'], ['streets.id'], name=op.f('fk_permits_street_id_streets')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_permits_submitted_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_permits')),
    sa.UniqueConstraint('project_id', name=op.f('uq_permits_project_id'))
    )
    with op.batch_alter_table('permits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_permits_alliance_id'), ['alliance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_permits_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_permits_street_id'), ['street_id'], unique=False)

    op.create_table('certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=40), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('signboard_id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('alliance_id', sa.Integer(), nullable=False),
    sa.Column('street_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('inspector_id', sa.Integer(), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('next_due_on', sa.Date(), nullable=False),
    sa.Column('conditions', sa.Text(), nullable=False),
    sa.Column('advisories', sa.Text(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_reason', sa.Text(), nullable=False),
    sa.Column('superseded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['alliance_id'], ['alliances.id'], name=op.f('fk_certificates_alliance_id_alliances')),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], name=op.f('fk_certificates_inspection_id_inspections')),
    sa.ForeignKeyConstraint(['inspector_id'], ['users.id'], name=op.f('fk_certificates_inspector_id_users')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_certificates_project_id_projects')),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_certificates_shop_id_shops')),
    sa.ForeignKeyConstraint(['signboard_id'], ['signboards.id'], name=op.f('fk_certificates_signboard_id_signboards')),
    sa.ForeignKeyConstraint(['street_id'], ['streets.id'], name=op.f('fk_certificates_street_id_streets')),
    sa.ForeignKeyConstraint(['superseded_by_id'], ['certificates.id'], name=op.f('fk_certificates_superseded_by_id_certificates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificates')),
    sa.UniqueConstraint('inspection_id', name=op.f('uq_certificates_inspection_id')),
    sa.UniqueConstraint('serial', name=op.f('uq_certificates_serial')),
    sa.UniqueConstraint('token', name=op.f('uq_certificates_token'))
    )
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificates_alliance_id'), ['alliance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificates_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificates_shop_id'), ['shop_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificates_signboard_id'), ['signboard_id'], unique=False)
        batch_op.create_index('ix_certificates_current_due', ['street_id', 'next_due_on'], unique=False,
                              sqlite_where=sa.text(CURRENT), postgresql_where=sa.text(CURRENT))

    op.create_table('permit_conditions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('permit_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['permit_id'], ['permits.id'], name=op.f('fk_permit_conditions_permit_id_permits'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_permit_conditions'))
    )
    with op.batch_alter_table('permit_conditions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_permit_conditions_permit_id'), ['permit_id'], unique=False)

    op.create_table('permit_photos',
    sa.Column('permit_id', sa.Integer(), nullable=False),
    sa.Column('photo_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.ForeignKeyConstraint(['permit_id'], ['permits.id'], name=op.f('fk_permit_photos_permit_id_permits'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['photo_id'], ['photos.id'], name=op.f('fk_permit_photos_photo_id_photos')),
    sa.PrimaryKeyConstraint('permit_id', 'photo_id', name=op.f('pk_permit_photos'))
    )
    op.create_table('rectification_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('signboard_id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('alliance_id', sa.Integer(), nullable=False),
    sa.Column('street_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.Enum('open', 'fixed', 'closed', name='rectificationstate', native_enum=False, length=20), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('overdue_notified_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['alliance_id'], ['alliances.id'], name=op.f('fk_rectification_orders_alliance_id_alliances')),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], name=op.f('fk_rectification_orders_inspection_id_inspections')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_rectification_orders_project_id_projects')),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_rectification_orders_shop_id_shops')),
    sa.ForeignKeyConstraint(['signboard_id'], ['signboards.id'], name=op.f('fk_rectification_orders_signboard_id_signboards')),
    sa.ForeignKeyConstraint(['street_id'], ['streets.id'], name=op.f('fk_rectification_orders_street_id_streets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rectification_orders')),
    sa.UniqueConstraint('inspection_id', name=op.f('uq_rectification_orders_inspection_id'))
    )
    with op.batch_alter_table('rectification_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rectification_orders_alliance_id'), ['alliance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rectification_orders_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rectification_orders_shop_id'), ['shop_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rectification_orders_signboard_id'), ['signboard_id'], unique=False)
        batch_op.create_index('ix_rectification_orders_open', ['street_id', 'deadline'], unique=False,
                              sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))

    # Inspections and rectification orders name each other: this link is added once both tables exist.
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_inspections_rectification_id_rectification_orders'),
                                    'rectification_orders', ['rectification_id'], ['id'],
                                    deferrable=True, initially='DEFERRED')

    op.create_table('inspection_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('alliance_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('condition_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=10), nullable=False),
    sa.Column('outcome', sa.Enum('pass', 'fail', 'not_applicable', name='outcome', native_enum=False, length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('answered_by_id', sa.Integer(), nullable=False),
    sa.Column('answered_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['alliance_id'], ['alliances.id'], name=op.f('fk_inspection_answers_alliance_id_alliances')),
    sa.ForeignKeyConstraint(['answered_by_id'], ['users.id'], name=op.f('fk_inspection_answers_answered_by_id_users')),
    sa.ForeignKeyConstraint(['condition_id'], ['permit_conditions.id'], name=op.f('fk_inspection_answers_condition_id_permit_conditions')),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], name=op.f('fk_inspection_answers_inspection_id_inspections')),
    sa.ForeignKeyConstraint(['item_id'], ['checklist_items.id'], name=op.f('fk_inspection_answers_item_id_checklist_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_answers')),
    sa.UniqueConstraint('inspection_id', 'code', name=op.f('uq_inspection_answers_inspection_id_code'))
    )
    with op.batch_alter_table('inspection_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_answers_inspection_id'), ['inspection_id'], unique=False)

    op.create_table('inspection_answer_photos',
    sa.Column('answer_id', sa.Integer(), nullable=False),
    sa.Column('photo_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['answer_id'], ['inspection_answers.id'], name=op.f('fk_inspection_answer_photos_answer_id_inspection_answers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['photo_id'], ['photos.id'], name=op.f('fk_inspection_answer_photos_photo_id_photos')),
    sa.PrimaryKeyConstraint('answer_id', 'photo_id', name=op.f('pk_inspection_answer_photos'))
    )
    op.create_table('rectification_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('alliance_id', sa.Integer(), nullable=False),
    sa.Column('answer_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=10), nullable=False),
    sa.Column('severity', sa.Enum('critical', 'major', 'minor', name='severity', native_enum=False, length=10), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('fixed_note', sa.Text(), nullable=False),
    sa.Column('fixed_by_id', sa.Integer(), nullable=True),
    sa.Column('fixed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['alliance_id'], ['alliances.id'], name=op.f('fk_rectification_items_alliance_id_alliances')),
    sa.ForeignKeyConstraint(['answer_id'], ['inspection_answers.id'], name=op.f('fk_rectification_items_answer_id_inspection_answers')),
    sa.ForeignKeyConstraint(['fixed_by_id'], ['users.id'], name=op.f('fk_rectification_items_fixed_by_id_users')),
    sa.ForeignKeyConstraint(['order_id'], ['rectification_orders.id'], name=op.f('fk_rectification_items_order_id_rectification_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rectification_items'))
    )
    with op.batch_alter_table('rectification_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rectification_items_order_id'), ['order_id'], unique=False)

    op.create_table('rectification_item_photos',
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('photo_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['rectification_items.id'], name=op.f('fk_rectification_item_photos_item_id_rectification_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['photo_id'], ['photos.id'], name=op.f('fk_rectification_item_photos_photo_id_photos')),
    sa.PrimaryKeyConstraint('item_id', 'photo_id', name=op.f('pk_rectification_item_photos'))
    )


def downgrade():
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_inspections_rectification_id_rectification_orders'), type_='foreignkey')
    op.drop_table('rectification_item_photos')
    with op.batch_alter_table('rectification_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rectification_items_order_id'))

    op.drop_table('rectification_items')
    op.drop_table('inspection_answer_photos')
    with op.batch_alter_table('inspection_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_answers_inspection_id'))

    op.drop_table('inspection_answers')
    with op.batch_alter_table('rectification_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_rectification_orders_open')
        batch_op.drop_index(batch_op.f('ix_rectification_orders_signboard_id'))
        batch_op.drop_index(batch_op.f('ix_rectification_orders_shop_id'))
        batch_op.drop_index(batch_op.f('ix_rectification_orders_project_id'))
        batch_op.drop_index(batch_op.f('ix_rectification_orders_alliance_id'))

    op.drop_table('rectification_orders')
    op.drop_table('permit_photos')
    with op.batch_alter_table('permit_conditions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_permit_conditions_permit_id'))

    op.drop_table('permit_conditions')
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index('ix_certificates_current_due')
        batch_op.drop_index(batch_op.f('ix_certificates_signboard_id'))
        batch_op.drop_index(batch_op.f('ix_certificates_shop_id'))
        batch_op.drop_index(batch_op.f('ix_certificates_project_id'))
        batch_op.drop_index(batch_op.f('ix_certificates_alliance_id'))

    op.drop_table('certificates')
    with op.batch_alter_table('permits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_permits_street_id'))
        batch_op.drop_index(batch_op.f('ix_permits_state'))
        batch_op.drop_index(batch_op.f('ix_permits_alliance_id'))

    op.drop_table('permits')
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.drop_index('ix_inspections_street_state')
        batch_op.drop_index(batch_op.f('ix_inspections_signboard_id'))
        batch_op.drop_index(batch_op.f('ix_inspections_shop_id'))
        batch_op.drop_index(batch_op.f('ix_inspections_project_id'))
        batch_op.drop_index(batch_op.f('ix_inspections_alliance_id'))

    op.drop_table('inspections')
    with op.batch_alter_table('checklist_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checklist_items_template_id'))

    op.drop_table('checklist_items')
    op.drop_table('safety_settings')
    with op.batch_alter_table('checklist_templates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checklist_templates_street_id'))

    op.drop_table('checklist_templates')
    op.drop_table('certificate_sequences')
