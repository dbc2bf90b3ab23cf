"""Renovation proposals: pages for shops, reviewers and the street office."""

from __future__ import annotations

import operator

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from merchant_alliance import authz, panels
from merchant_alliance.accounts.models import Alliance, Role, Street
from merchant_alliance.errors import ERROR_MESSAGES, form_refusal, refusals
from merchant_alliance.extensions import db
from merchant_alliance.inputs import int_arg, page_arg
from merchant_alliance.pagecache import alliance_scope, lazy, own_scopes
from merchant_alliance.projects import queries, services
from merchant_alliance.projects.forms import (
    CommentForm,
    DesignVersionForm,
    GuidelineForm,
    ProposalForm,
    RenewalGoalForm,
    TransitionForm,
)
from merchant_alliance.projects.guidelines import GUIDELINE_FIELDS, check, guideline_for, violations
from merchant_alliance.projects.lifecycle import Attempt, lifecycle
from merchant_alliance.projects.models import DesignVersion, Project, ProjectState
from merchant_alliance.shops.models import Shop, SignType
from merchant_alliance.shops.services import signboards_of

bp = Blueprint("projects", __name__)
PROJECTS_PER_PAGE = 50


def shop_panel(shop: Shop, user) -> dict:
    """The shop page's card of its renovation projects (added by projects.init_app)."""
    return {"rows": queries.projects_of_shop(shop),
            "can_propose": authz.can(user, "propose", shop), "shop": shop}


def owner_home_panel(user, _user) -> dict:
    """The shop owner's projects on their home page, what each waits for, and quick links (added by
    projects.init_app)."""
    shop_ids = sorted({m.shop_id for m in user.memberships if m.role == Role.SHOP_OWNER and m.shop_id})
    if not shop_ids:
        return {}
    return {"work": queries.owner_work(shop_ids)}


def lead_home_panel(user, _user) -> dict:
    """What waits for an alliance lead on their home page: designs to review, stuck projects, the renewal
    progress and its goal (added by projects.init_app)."""
    alliance_ids = sorted({m.alliance_id for m in user.memberships
                           if m.role == Role.ALLIANCE_LEAD and m.alliance_id and not m.pending})
    if not alliance_ids:
        return {}
    return {"work": queries.lead_work(user, alliance_ids)}


@bp.route("/alliances/<int:alliance_id>/renewal-goal", methods=["POST"])
def renewal_goal(alliance_id: int):
    alliance = db.get_or_404(Alliance, alliance_id)
    authz.require(current_user, "set_renewal_goal", alliance)
    form = RenewalGoalForm()
    if form.validate_on_submit():
        with refusals() as attempt:
            services.set_renewal_goal(current_user, alliance, form.goal.data)
        if attempt.ok:
            flash(_("The renewal goal has been saved."), "success")
    else:
        flash(form_refusal(form, ERROR_MESSAGES[400]), "error")
    return redirect(url_for("public.index") + "#lead-work")


@bp.before_request
@login_required
def require_login() -> None:
    """Every page here is for logged-in users."""


def _project_or_404(project_id: int, action: str = "view", *, with_versions: bool = True) -> Project:
    project = queries.load_project(project_id, with_versions=with_versions)
    if project is None:
        abort(404)
    authz.require(current_user, action, project)
    return project


def _findings(project: Project, version: DesignVersion | None) -> list:
    if version is None:
        return []
    return check(version, project.shop.facade_width_m, guideline_for(project.alliance.street_id))


@bp.route("/shops/<int:shop_id>/projects/new", methods=["GET", "POST"])
def new_project(shop_id: int):
    shop = db.get_or_404(Shop, shop_id)
    authz.require(current_user, "propose", shop)
    signboards = [s for s in signboards_of(shop) if s.removed_at is None]
    if not signboards:
        flash(_("First record the shop's current signboard, with a photo."), "info")
        return redirect(url_for("shops.new_signboard", shop_id=shop.id, then="propose"))
    # What decides whether the form can succeed comes first: a sign with a proposal under way cannot take another,
    # so it is not offered, and the page links to that proposal before anything is typed.
    busy = queries.open_proposals_of([s.id for s in signboards])
    free = [s for s in signboards if s.id not in busy]
    form = ProposalForm()
    # A post may name a sign that became busy since the page was drawn: the service says so (or, for the same
    # form sent again, answers with the proposal it already made).
    form.signboard_id.choices = [(s.id, s.label) for s in (signboards if request.method == "POST" else free)]
    if request.method == "GET" and int_arg("signboard") in {s.id for s in free}:
        form.signboard_id.data = int_arg("signboard")
    if form.validate_on_submit():
        signboard = next(s for s in signboards if s.id == form.signboard_id.data)
        with refusals(form if free else None, "signboard_id") as attempt:
            project = services.propose_renovation(current_user, signboard, form.title.data, form.description.data,
                                                   idempotency_key=form.idempotency_key.data)
        if attempt.ok:
            flash(_("Proposal created. Now add the design: its size, materials and mock-ups."), "success")
            return redirect(url_for("projects.new_version", project_id=project.id))
    form.signboard_id.choices = [(s.id, s.label) for s in free]
    return render_template("projects/new_project.html", form=form if free else None, shop=shop,
                           busy=[(s, busy[s.id]) for s in signboards if s.id in busy])


@bp.route("/projects/<int:project_id>")
def project(project_id: int):
    project = _project_or_404(project_id, with_versions=False)
    # Built only when the page's body is (not when it comes from the page cache).
    details = lazy(_project_details, project)
    return render_template(
        "projects/project.html", project=project,
        **{name: lazy(operator.getitem, details, name) for name in _PROJECT_DETAILS},
        transition_form=lazy(TransitionForm), comment_form=lazy(CommentForm),
        can_add_version=_can_add_version(project),
        can_comment=authz.can(current_user, "comment", project),
        cache_scopes=[alliance_scope(project.alliance_id)],
    )


_PROJECT_DETAILS = ("signboard", "version", "findings", "violations", "actions", "blocked", "why", "standing", "recent",
                    "panels")


def _can_add_version(project: Project) -> bool:
    return authz.can(current_user, "propose", project) and lifecycle.allows(project, "add_version")


def _project_details(project: Project) -> dict:
    """What the project page's body shows, from its versions (loaded here, with their photos) on."""
    queries.load_versions(project)
    version = project.latest_version
    findings = _findings(project, version)
    entries = services.timeline(project)
    # The buttons this person has now, less those the rules refuse whatever they type (a submit before the
    # new version the lead asked for): for those the page says why instead, and offers the step that helps.
    actions, blocked = [], {}
    for transition in lifecycle.actions_for(current_user, project):
        refusal = lifecycle.refusal(current_user, project, transition.action, Attempt(reason="·"))
        if refusal is None:
            actions.append(transition)
        else:
            blocked[transition.action] = refusal
    return {"signboard": project.signboard, "version": version, "findings": findings,
            "violations": violations(findings), "actions": actions, "blocked": blocked,
            "why": _why(project, entries), "recent": entries[-5:],
            "standing": lifecycle.standing(current_user, project, actions, blocked),
            "panels": panels.for_page("project", project, current_user)}  # cards other domains add


def _why(project: Project, entries: list):
    """The timeline entry that explains the project's state: the move into it, when a reason was given (an
    older reason no longer explains where it is)."""
    moves = [entry for entry in entries if entry.details.get("to")]
    last = moves[-1] if moves else None
    explains = last is not None and last.details.get("reason") and last.details["to"] == str(project.state)
    return last if explains else None


@bp.route("/projects/<int:project_id>/versions/new", methods=["GET", "POST"])
def new_version(project_id: int):
    project = _project_or_404(project_id, "propose")
    if not lifecycle.allows(project, "add_version"):
        flash(_("A new version can only be added to a draft or when changes were requested."), "error")
        return redirect(url_for("projects.project", project_id=project.id))
    form = DesignVersionForm()
    previous = project.latest_version
    if request.method == "GET":
        source = previous or project.signboard
        for name in ("sign_type", "width_m", "height_m", "projection_m", "clearance_m", "illuminated"):
            getattr(form, name).data = getattr(source, name)
        if previous is not None:
            for name in ("materials", "lighting", "fixing_method", "notes"):
                getattr(form, name).data = getattr(previous, name)
            form.estimated_cost.data = previous.estimated_cost_fen
    if form.validate_on_submit():
        specs = {name: getattr(form, name).data for name in
                 ("width_m", "height_m", "projection_m", "clearance_m", "illuminated", "materials", "lighting",
                  "fixing_method", "notes")}
        specs["sign_type"] = SignType(form.sign_type.data)
        specs["estimated_cost_fen"] = form.estimated_cost.data
        with refusals(form) as attempt:
            version = services.add_design_version(current_user, project, specs, mockups=form.mockups.data,
                                                  current=form.current.data,
                                                  idempotency_key=form.idempotency_key.data)
        if attempt.ok:
            flash(_("Version %(n)s saved.", n=version.number), "success")
            return redirect(url_for("projects.project", project_id=project.id))
    return render_template("projects/new_version.html", form=form, project=project, previous=previous,
                           rules=guideline_for(project.alliance.street_id), facade=project.shop.facade_width_m)


@bp.route("/projects/<int:project_id>/versions/<int:number>")
def version(project_id: int, number: int):
    project = _project_or_404(project_id)
    version = next((v for v in project.versions if v.number == number), None)
    if version is None:
        abort(404)
    findings = _findings(project, version)
    return render_template("projects/version.html", project=project, version=version, findings=findings)


@bp.route("/projects/<int:project_id>/compare")
def compare(project_id: int):
    project = _project_or_404(project_id)
    by_number = {v.number: v for v in project.versions}
    if len(by_number) < 2:
        flash(_("There is only one version so far."), "info")
        return redirect(url_for("projects.project", project_id=project.id))
    newest = max(by_number)
    a = by_number.get(int_arg("a") or newest - 1)
    b = by_number.get(int_arg("b") or newest)
    if a is None or b is None:
        abort(404)
    changed = {name for name in services.SPEC_FIELDS if getattr(a, name) != getattr(b, name)}
    if a.width_m != b.width_m or a.height_m != b.height_m:
        changed.add("size")
    return render_template("projects/compare.html", project=project, a=a, b=b, numbers=sorted(by_number),
                           changed=changed,
                           findings_a=_findings(project, a), findings_b=_findings(project, b))


@bp.route("/projects/<int:project_id>/actions", methods=["POST"])
def act(project_id: int):
    project = _project_or_404(project_id)
    form = TransitionForm()
    if form.validate_on_submit():
        with refusals() as attempt:
            transition = services.move(current_user, project, form.action.data,
                                       Attempt(reason=form.reason.data or ""))
        if attempt.ok:
            flash(_("Done: %(state)s.", state=transition.target.label), "success")
    else:
        flash(form_refusal(form, ERROR_MESSAGES[400]), "error")
    return redirect(url_for("projects.project", project_id=project_id))


@bp.route("/projects/<int:project_id>/comments", methods=["POST"])
def comment(project_id: int):
    project = _project_or_404(project_id, "comment")
    form = CommentForm()
    if form.validate_on_submit():
        with refusals() as attempt:
            services.add_comment(current_user, project, form.body.data, form.photos.data,
                                 idempotency_key=form.idempotency_key.data)
        if attempt.ok:
            flash(_("Comment added."), "success")
    else:
        flash(form_refusal(form, _("Please write something before sending.")), "error")
    return redirect(url_for("projects.project", project_id=project_id) + "#comments")


@bp.route("/projects/<int:project_id>/timeline")
def timeline(project_id: int):
    project = _project_or_404(project_id)
    return render_template("projects/timeline.html", project=project, entries=services.timeline(project))


@bp.route("/projects/mine")
def mine():
    return render_template("projects/list.html", rows=lazy(queries.projects_of_owner, current_user), alliance=None,
                           counts=None, state=None, cache_scopes=sorted(own_scopes(current_user)))


@bp.route("/alliances/<int:alliance_id>/projects")
def alliance_projects(alliance_id: int):
    alliance = db.get_or_404(Alliance, alliance_id)
    authz.require(current_user, "view_register", alliance)
    state_arg = request.args.get("state")
    state = ProjectState(state_arg) if state_arg in ProjectState.__members__.values() else None
    counts = lazy(queries.state_counts, alliance)
    rows = lazy(queries.projects_of_alliance, alliance, state, counts, page=page_arg(), per_page=PROJECTS_PER_PAGE)
    return render_template("projects/list.html", rows=rows, alliance=alliance, counts=counts, state=state,
                           cache_scopes=[alliance_scope(alliance.id)])


@bp.route("/streets/<int:street_id>/guidelines", methods=["GET", "POST"])
def guidelines(street_id: int):
    street = db.get_or_404(Street, street_id)
    if not authz.can(current_user, "view_guidelines", street):
        abort(404)
    can_edit = authz.can(current_user, "edit_guidelines", street)
    if request.method == "POST" and not can_edit:
        abort(403)
    current = guideline_for(street.id)
    form = GuidelineForm(obj=current)
    if form.validate_on_submit():
        with refusals(form) as attempt:
            services.update_guidelines(current_user, street, {n: getattr(form, n).data for n in GUIDELINE_FIELDS})
        if attempt.ok:
            flash(_("The design guidelines have been saved."), "success")
            return redirect(url_for("projects.guidelines", street_id=street.id))
    return render_template("projects/guidelines.html", street=street, form=form, can_edit=can_edit,
                           guideline=current)
