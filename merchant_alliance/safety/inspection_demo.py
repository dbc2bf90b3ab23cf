"""The demo's inspections (run after the works' demo, which installs the bookshop's and the tea shop's new signs):

- the first installed sign (the bookshop's): its acceptance inspection fails a critical item (the bolts), the shop
  fixes it with a photo, the re-inspection passes: the project is completed and certified;
- every other installed sign (the tea shop's) is inspected and certified on the first visit.

So the officer's home, an inspection, a rectification, two certificates and their public tags all have
something to show. Loaded once: nothing is added when the alliance already has an inspection.
"""

from __future__ import annotations

from sqlalchemy import select

from merchant_alliance.accounts.models import Role, User
from merchant_alliance.demo import DemoContext
from merchant_alliance.extensions import db
from merchant_alliance.projects.demo import draw_photo
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.safety import checklists, inspections, rectifications
from merchant_alliance.safety.models import Inspection, Outcome, RectificationOrder

TEA_SHOP_INDEX = 6  # in house-number order; the projects' demo uses the first six
STREET_CODE = "JAS"  # 静安寺街道


def load(context: DemoContext) -> int:
    """Returns how many inspections were made (none the second time)."""
    if db.session.scalar(select(Inspection.id).where(Inspection.alliance_id == context.alliance.id).limit(1)):
        return 0
    officer = context.users[Role.STREET_OFFICER]
    settings = checklists.settings_for(context.alliance.street_id)
    if settings.code == checklists.default_code(context.alliance.street_id):
        settings.code = STREET_CODE  # the street office's own code in its certificates' serial numbers
        db.session.commit()
    made = 0
    installed = list(db.session.scalars(select(Project).where(
        Project.alliance_id == context.alliance.id, Project.state == ProjectState.INSTALLED).order_by(Project.id)))
    for n, project in enumerate(installed):
        if n == 0:
            made += _failed_then_rectified(project, officer)
            continue
        inspection = inspections.start_for_project(officer, project)
        _answer(officer, inspection, failing={})
        inspections.finish(officer, inspection, summary="新招牌安装牢固，电气规范，验收合格。")
        made += 1
    return made


def _failed_then_rectified(project: Project, officer: User) -> int:
    owner = db.session.get(User, project.created_by_id)
    inspection = inspections.start_for_project(officer, project)
    _answer(officer, inspection, failing={"S05": "右侧两处M12锚栓扭矩不足，用手可晃动牌面。"})
    inspections.finish(officer, inspection, summary="连接螺栓松动，须48小时内紧固并复查。")
    order = db.session.scalar(select(RectificationOrder).where(RectificationOrder.inspection_id == inspection.id))
    for item in order.items:
        rectifications.report_fixed(owner, item, "已由施工队按设计扭矩重新紧固，并加装防松垫片。",
                                    [draw_photo(700 + item.id, mockup=True)])
    again = inspections.start_for_project(officer, project)
    _answer(officer, again, failing={}, only_required=True)
    inspections.finish(officer, again, summary="复查合格：锚栓已紧固。")
    return 2


def _answer(officer: User, inspection: Inspection, *, failing: dict[str, str], only_required: bool = False) -> None:
    for n, question in enumerate(inspections.questions(inspection)):
        if only_required and not question.required:
            continue
        outcome = Outcome.FAIL if question.code in failing else Outcome.PASS
        photos = [draw_photo(800 + inspection.id * 20 + n, mockup=True)] \
            if question.photo_required or question.code in failing else []
        inspections.save_answer(officer, inspection, question.code, outcome, failing.get(question.code, ""), photos)
