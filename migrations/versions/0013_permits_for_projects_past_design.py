"""permits for projects past design approval: a project that reached funding (or later) before structural permits
existed gets a granted permit, its plan copied from its latest design version, so that every funded project has one

Nothing in the schema changes. Going back removes only the permits this migration recorded.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 09:00:00

"""
from datetime import UTC, datetime
from decimal import Decimal

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

REASON = "recorded when permits were introduced"
# Every state after the permit in the lifecycle (DESIGN.md), the project ended by completion included; a project
# withdrawn or rejected may never have been past the design, and one waiting for a permit cannot predate permits.
PAST_THE_PERMIT = ('permit_granted', 'funded', 'contracted', 'in_progress', 'installed', 'inspection', 'passed',
                   'failed', 'rectification', 'completed')

projects = sa.table('projects', sa.column('id', sa.Integer), sa.column('alliance_id', sa.Integer),
                    sa.column('state', sa.String), sa.column('created_by_id', sa.Integer))
alliances = sa.table('alliances', sa.column('id', sa.Integer), sa.column('street_id', sa.Integer))
versions = sa.table(
    'design_versions', sa.column('project_id', sa.Integer), sa.column('number', sa.Integer),
    sa.column('width_m', sa.Numeric(6, 2)), sa.column('height_m', sa.Numeric(6, 2)),
    sa.column('projection_m', sa.Numeric(6, 2)), sa.column('clearance_m', sa.Numeric(6, 2)),
    sa.column('illuminated', sa.Boolean), sa.column('lighting', sa.String), sa.column('fixing_method', sa.String))
permits = sa.table(
    'permits',
    *(sa.column(name, sa.Integer) for name in ('id', 'project_id', 'alliance_id', 'street_id', 'round',
                                                'submitted_by_id', 'decided_by_id')),
    *(sa.column(name, sa.String) for name in ('state', 'fixing_method', 'host_wall', 'wiring', 'notes', 'reason',
                                               'district_number')),
    *(sa.column(name, sa.Numeric(6, 2)) for name in ('width_m', 'height_m', 'projection_m', 'clearance_m',
                                                      'top_height_m')),
    sa.column('weight_kg', sa.Numeric(8, 1)), sa.column('illuminated', sa.Boolean),
    *(sa.column(name, sa.DateTime) for name in ('submitted_at', 'decided_at', 'updated_at')),
)
permit_conditions = sa.table('permit_conditions', sa.column('permit_id', sa.Integer))
permit_photos = sa.table('permit_photos', sa.column('permit_id', sa.Integer))


def upgrade():
    bind = op.get_bind()
    latest = (sa.select(versions.c.project_id, sa.func.max(versions.c.number).label('number'))
              .group_by(versions.c.project_id).subquery())
    rows = bind.execute(
        sa.select(projects.c.id, projects.c.alliance_id, alliances.c.street_id, projects.c.created_by_id,
                  versions.c.width_m, versions.c.height_m, versions.c.projection_m, versions.c.clearance_m,
                  versions.c.illuminated, versions.c.lighting, versions.c.fixing_method)
        .join(alliances, alliances.c.id == projects.c.alliance_id)
        .outerjoin(latest, latest.c.project_id == projects.c.id)
        .outerjoin(versions, (versions.c.project_id == projects.c.id) & (versions.c.number == latest.c.number))
        .where(projects.c.state.in_(PAST_THE_PERMIT),
               ~sa.exists().where(permits.c.project_id == projects.c.id))
        .order_by(projects.c.id)
    ).all()
    if not rows:
        return
    now = datetime.now(UTC).replace(tzinfo=None)  # naive UTC, as the app stores every time
    zero = Decimal(0)
    bind.execute(sa.insert(permits), [{
        'project_id': row.id, 'alliance_id': row.alliance_id, 'street_id': row.street_id, 'state': 'granted',
        'round': 1, 'fixing_method': (row.fixing_method or '')[:200], 'host_wall': '',
        'width_m': row.width_m or zero, 'height_m': row.height_m or zero, 'projection_m': row.projection_m or zero,
        'clearance_m': row.clearance_m or zero, 'top_height_m': (row.clearance_m or zero) + (row.height_m or zero),
        'weight_kg': zero, 'illuminated': bool(row.illuminated), 'wiring': row.lighting or '', 'notes': '',
        'submitted_by_id': row.created_by_id, 'submitted_at': now, 'decided_by_id': None, 'decided_at': now,
        'reason': REASON, 'district_number': '', 'updated_at': now,
    } for row in rows])


def downgrade():
    recorded = sa.select(permits.c.id).where(permits.c.reason == REASON, permits.c.decided_by_id.is_(None))
    op.execute(sa.delete(permit_conditions).where(permit_conditions.c.permit_id.in_(recorded)))
    op.execute(sa.delete(permit_photos).where(permit_photos.c.permit_id.in_(recorded)))
    op.execute(sa.delete(permits).where(permits.c.reason == REASON, permits.c.decided_by_id.is_(None)))
