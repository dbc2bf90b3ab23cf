"""The demo's structural permits: the approved project's plan, sent by its owner and granted by the street officer
with a condition (run before the fund's demo, which funds it)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from merchant_alliance.accounts.models import Role, User
from merchant_alliance.demo import DemoContext
from merchant_alliance.extensions import db
from merchant_alliance.projects.demo import draw_photo
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.safety import permits


def load(context: DemoContext) -> int:
    """Grant the permit of each demo project whose design is approved; returns how many (none the second time)."""
    officer = context.users[Role.STREET_OFFICER]
    approved = db.session.scalars(select(Project).where(Project.alliance_id == context.alliance.id,
                                                        Project.state == ProjectState.DESIGN_APPROVED)).all()
    for n, project in enumerate(approved):
        owner = db.session.get(User, project.created_by_id)
        plan = {**permits.plan_from_design(project), "host_wall": "钢筋混凝土圈梁，外墙面砖完好，无空鼓",
                "fixing_method": project.latest_version.fixing_method or "M12化学锚栓，每侧四个",
                "weight_kg": Decimal("45.0")}
        permit = permits.request_permit(owner, project, plan, [draw_photo(900 + n, mockup=True)])
        permits.grant(officer, permit, ["安装完成后提交化学锚栓拉拔试验记录"])
    return len(approved)
