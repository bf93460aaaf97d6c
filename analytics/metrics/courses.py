"""Course completion: purchase -> lesson 1 -> ... -> last lesson, split by what acquired the buyer.

Definitions (glossary: docs/metrics.md, "Video and course completion"):

* a **course** is a catalog item of kind ``course`` (its ``lessons`` come from the catalog) or a
  course id seen on lesson events; without a positive catalog ``lessons`` the number of lessons is
  the highest lesson seen in the events (``lessons_source = "events"``).
* an event belongs to course ``c`` when ``coalesce(course_id, item_id) = c``.
* **buyers** of ``c`` = users with a purchase of ``c`` that matches the filters; a buyer's purchase
  time is their first such purchase (a later refund does not remove them). Lesson events are read
  at any time after it (the date filter picks the purchase cohort, it does not cut learning short)
  and regardless of channel.
* **lesson k reached** = a ``lesson_complete`` event of ``c`` with ``lesson >= k`` at or after the
  purchase (with ``count_starts=True`` a ``lesson_start`` counts too). A learner's **last lesson**
  is the highest lesson reached (0 = never reached lesson 1), capped at the number of lessons; the
  lesson where learners stop is the distribution of last lessons below the final one.
* **time between lessons** = per learner, hours from the first event of lesson k-1 (the purchase
  for k = 1) to the first event of lesson k itself, when both exist and are in that order; median
  and p90 (linear interpolation).
* **still learning**: a course's ``days_to_complete`` is the number of days within which
  :data:`COMPLETION_QUANTILE` of its completers reached the last lesson after their purchase (the
  completers of every course together when the course has fewer than :data:`MIN_COMPLETERS`);
  ``recent_buyers`` are its buyers who bought less than that before the data's last event. They
  are counted in the rates like everyone (the rates describe the cohort as it stands), and the
  report says how many there are, since their completion may still rise. Both are null when too
  few buyers completed to tell.
* **acquiring view** = the buyer's last ``view`` at or before the purchase of a video promoting
  ``c`` (``coalesce(events.course_id, items.course_id) = c``); its video, channel and variant split
  the buyers. Buyers without such a view form the group "no promoting view" (``acquired = False``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal, NamedTuple

import ibis
import numpy as np
import pandas as pd

from analytics.errors import BadInput
from analytics.metrics.completion import catalog
from analytics.query.filters import Filters, filtered_events
from analytics.store.storage import Source

#: ``days_to_complete``: the share of completers who completed within it, and the completers needed.
COMPLETION_QUANTILE, MIN_COMPLETERS = 0.9, 5

SplitBy = Literal["video", "channel", "variant"]
SPLITS: tuple[str, ...] = ("video", "channel", "variant")
Status = Literal["ok", "no_courses", "no_buyers"]


@dataclass(frozen=True)
class CourseCompletion:
    """Course completion tables.

    * ``courses``: course_id, title, lessons, lessons_source, buyers, started, completed,
      start_rate, completion_rate, avg_progress (mean share of lessons reached), in [0, 1];
      days_to_complete and recent_buyers (see "still learning" in the module docstring).
    * ``funnel``: course_id, step (0 = purchase, k = lesson k), learners,
      conversion_from_previous, conversion_from_first.
    * ``stops``: course_id, last_lesson (0..lessons), learners, share.
    * ``gaps``: course_id, from_step, to_step, learners, median_hours, p90_hours.
    * ``split``: course_id, by, group, acquired, buyers, started, completed, completion_rate, avg_progress.
    """

    status: Status
    by: SplitBy
    count_starts: bool
    courses: pd.DataFrame
    funnel: pd.DataFrame
    stops: pd.DataFrame
    gaps: pd.DataFrame
    split: pd.DataFrame
    filters: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "by": self.by,
            "count_starts": self.count_starts,
            "filters": self.filters,
            "courses": self.courses,
            "funnel": self.funnel,
            "stops": self.stops,
            "gaps": self.gaps,
            "split": self.split,
        }


def _course_list(source, lesson_events) -> pd.DataFrame:
    """Courses with their number of lessons: catalog courses plus course ids on lesson events."""
    items = catalog(source)
    cat = items.filter(items.kind == "course").select(
        course_id=items.item_id, title=items.title, catalog_lessons=items.lessons
    )
    seen = lesson_events.group_by("course").aggregate(max_lesson=lesson_events.lesson.max())
    joined = cat.outer_join(seen, cat.course_id == seen.course).mutate(
        course_id=ibis.coalesce(cat.course_id, seen.course)
    )
    df = source.execute(joined.select("course_id", "title", "catalog_lessons", "max_lesson"))
    from_catalog = df.catalog_lessons.fillna(0) > 0
    df["lessons"] = np.where(from_catalog, df.catalog_lessons.fillna(0), df.max_lesson.fillna(0)).astype("int64")
    df["lessons_source"] = np.where(from_catalog, "catalog", "events")
    df["title"] = df["title"].astype(object).where(df["title"].notna(), None)
    return df[["course_id", "title", "lessons", "lessons_source"]].sort_values("course_id").reset_index(drop=True)


def course_completion(
    source: Source,
    filters: Filters | None = None,
    *,
    by: SplitBy = "channel",
    course: str | None = None,
    count_starts: bool = False,
) -> CourseCompletion:
    """The course completion funnel per course, where learners stop, time between lessons and a split.

    Args:
        source: the event source.
        filters: shared filters; they select the purchases (the buyer cohort).
        by: split buyers by the acquiring ``video``, ``channel`` or ``variant``.
        course: keep only this course id.
        count_starts: count ``lesson_start`` as reaching a lesson (default: only ``lesson_complete``).

    Returns a :class:`CourseCompletion` (definitions in the module docstring); status
    ``no_courses`` when there is no course at all and ``no_buyers`` when no purchase matches.
    """
    if by not in SPLITS:
        raise BadInput(f"unknown split {by!r}; use one of {', '.join(SPLITS)}", code="bad_split", value=by)
    filters = filters or Filters()
    return _course_completion(
        source, source.table("events"), _lessons(source, count_starts), filters, by, course, count_starts
    )


def _materialize(source, table):
    """Run ``table`` once and return it as an in-memory ibis table (``ibis.memtable``).

    Lesson events and buyers are small next to the event log; fetching them once means each kind of
    event is scanned once although several results read them. Portable: every ibis source accepts
    memtables (``Table.cache`` would do the same, but its DDL fails with this ibis/sqlglot pairing).
    """
    return ibis.memtable(source.to_arrow(table))


def _lessons(source: Source, count_starts: bool):
    """The lesson events that count as reaching a lesson, fetched once (``user_id, event_time, lesson, course``)."""
    events = source.table("events")
    lesson_types = ["lesson_complete", "lesson_start"] if count_starts else ["lesson_complete"]
    lessons = events.filter(events.event_type.isin(lesson_types) & events.lesson.notnull() & (events.lesson >= 1))
    lessons = lessons.select(
        "user_id", "event_time", "lesson", course=ibis.coalesce(lessons.course_id, lessons.item_id)
    )
    return _materialize(source, lessons)


def _cohort(source, lessons, filters: Filters, course: str | None):
    """The courses, the buyer cohort (first purchase per buyer and course in the filters) and the
    first time each buyer reached each lesson at or after the purchase; ``None``s without courses."""
    course_list = _course_list(source, lessons)
    if course is not None:
        course_list = course_list[course_list.course_id == course].reset_index(drop=True)
    if course_list.empty:
        return course_list, None, None
    ids = course_list.course_id.tolist()
    purchases = filtered_events(source, filters)
    purchases = purchases.filter(purchases.event_type == "purchase")
    purchases = purchases.mutate(course=ibis.coalesce(purchases.course_id, purchases.item_id))
    purchases = purchases.filter(purchases.course.isin(ids))
    buyers = _materialize(source, purchases.group_by(["user_id", "course"]).aggregate(purchased_at=purchases.event_time.min()))
    lb = lessons.join(buyers, (lessons.user_id == buyers.user_id) & (lessons.course == buyers.course))
    lb = lb.filter(lb.event_time >= lb.purchased_at)
    reached = _materialize(source, lb.group_by(["user_id", "course", "lesson"]).aggregate(reached_at=lb.event_time.min()))
    return course_list, buyers, reached


def _per_buyer(buyers, reached):
    """One row per buyer and course with the highest lesson reached (``max_lesson``, null if none)."""
    progress = reached.group_by(["user_id", "course"]).aggregate(max_lesson=reached.lesson.max())
    per_buyer = buyers.left_join(progress, (buyers.user_id == progress.user_id) & (buyers.course == progress.course))
    return per_buyer.select(buyers.user_id, buyers.course, buyers.purchased_at, progress.max_lesson)


def _flag_learners(learners: pd.DataFrame, n_lessons: pd.Series) -> pd.DataFrame:
    """Add ``lessons``, ``last_lesson``, ``started``, ``completed`` and ``progress`` per buyer and course."""
    learners["lessons"] = learners["course"].map(n_lessons).astype("int64")
    learners["last_lesson"] = np.minimum(learners["max_lesson"].fillna(0).astype("int64"), learners["lessons"])
    learners["started"] = learners["last_lesson"] >= 1
    learners["completed"] = (learners["lessons"] > 0) & (learners["last_lesson"] >= learners["lessons"])
    learners["progress"] = np.where(learners["lessons"] > 0, learners["last_lesson"] / learners["lessons"].clip(lower=1), 0.0)
    return learners


class CompletionRate(NamedTuple):
    """The Overview's course completion: the rate, its buyer-course pairs, and those of them still
    learning (``recent_buyers`` summed over the courses that can tell; module docstring)."""

    rate: float | None
    buyers: int
    recent_buyers: int


def completion_rate(source: Source, filters: Filters | None = None, *, count_starts: bool = False) -> CompletionRate:
    """Completed buyer-course pairs / buyer-course pairs (the Overview's course completion KPI).

    The same cohort and rule as :func:`course_completion`, without its acquisition split and
    gaps; the rate is ``None`` without courses or buyers.
    """
    course_list, buyers, reached = _cohort(source, _lessons(source, count_starts), filters or Filters(), None)
    if buyers is None:
        return CompletionRate(None, 0, 0)
    learners = source.execute(_per_buyer(buyers, reached))
    if learners.empty:
        return CompletionRate(None, 0, 0)
    learners = _flag_learners(learners, course_list.set_index("course_id")["lessons"])
    recent = _still_learning(source, reached, learners)["recent_buyers"].sum()
    return CompletionRate(float(learners["completed"].sum()) / len(learners), len(learners), int(recent))


def _course_completion(source, events, lessons, filters, by, course, count_starts) -> CourseCompletion:
    course_list, buyers, reached = _cohort(source, lessons, filters, course)
    empty = _empty(by, count_starts, course_list, filters)
    if buyers is None:
        return replace(empty, status="no_courses")

    # The acquiring view: the last view of a video promoting the course, at or before the purchase.
    items = catalog(source)
    promo = items.select(promo_item_id=items.item_id, promo_course=items.course_id)
    views = events.filter(events.event_type == "view")
    views = views.left_join(promo, views.item_id == promo.promo_item_id)
    views = views.select(
        v_user=views.user_id,
        v_course=ibis.coalesce(views.course_id, views.promo_course),
        v_time=views.event_time,
        video=views.item_id,
        channel=views.channel,
        variant=views.variant,
    ).view()  # a closed relation, so the next join starts a new chain
    vb = views.join(buyers, (views.v_user == buyers.user_id) & (views.v_course == buyers.course))
    vb = vb.filter(vb.v_time <= vb.purchased_at)
    last = ibis.row_number().over(
        group_by=[vb.user_id, vb.course], order_by=[ibis.desc(vb.v_time), ibis.desc(vb.video)]
    )
    acquiring = vb.mutate(_rn=last).filter(lambda t: t._rn == 0).select(
        a_user="user_id", a_course="course", video="video", channel="channel", variant="variant"
    )

    per_buyer = _per_buyer(buyers, reached)
    per_buyer = per_buyer.left_join(
        acquiring, (per_buyer.user_id == acquiring.a_user) & (per_buyer.course == acquiring.a_course)
    ).drop("a_user", "a_course")
    learners = source.execute(per_buyer)
    if learners.empty:
        return empty

    n_lessons = course_list.set_index("course_id")["lessons"]
    learners = _flag_learners(learners, n_lessons)
    gaps = _gaps(source, buyers, reached, n_lessons)
    return CourseCompletion(
        "ok",
        by,
        count_starts,
        _courses_table(course_list, learners).merge(
            _still_learning(source, reached, learners), on="course_id", how="left", validate="one_to_one"),
        _funnel_table(course_list, learners),
        _stops_table(course_list, learners),
        gaps,
        _split_table(learners, by),
        filters.describe(),
    )


def _empty(by, count_starts, course_list, filters) -> CourseCompletion:
    cols = {
        "funnel": ["course_id", "step", "learners", "conversion_from_previous", "conversion_from_first"],
        "stops": ["course_id", "last_lesson", "learners", "share"],
        "gaps": ["course_id", "from_step", "to_step", "learners", "median_hours", "p90_hours"],
        "split": ["course_id", "by", "group", "acquired", "buyers", "started", "completed", "completion_rate", "avg_progress"],
    }
    courses = course_list.assign(buyers=0, started=0, completed=0, start_rate=np.nan, completion_rate=np.nan, avg_progress=np.nan)
    return CourseCompletion(
        "no_buyers", by, count_starts, courses, *(pd.DataFrame(columns=c) for c in cols.values()), filters.describe()
    )


def _rate(num, den):
    return num / den if den else np.nan


def _courses_table(course_list: pd.DataFrame, learners: pd.DataFrame) -> pd.DataFrame:
    g = learners.groupby("course")
    stats = pd.DataFrame({
        "buyers": g.size(),
        "started": g["started"].sum(),
        "completed": g["completed"].sum(),
        "avg_progress": g["progress"].mean(),
    })
    out = course_list.merge(stats, left_on="course_id", right_index=True, how="left")
    for c in ("buyers", "started", "completed"):
        out[c] = out[c].fillna(0).astype("int64")
    out["start_rate"] = [_rate(s, b) for s, b in zip(out.started, out.buyers)]
    out["completion_rate"] = [_rate(c, b) for c, b in zip(out.completed, out.buyers)]
    cols = ["course_id", "title", "lessons", "lessons_source", "buyers", "started", "completed",
            "start_rate", "completion_rate", "avg_progress"]
    return out[cols].sort_values(["buyers", "course_id"], ascending=[False, True]).reset_index(drop=True)


def _still_learning(source, reached, learners: pd.DataFrame) -> pd.DataFrame:
    """Per course: ``days_to_complete`` and ``recent_buyers`` (module docstring, "still learning")."""
    courses = pd.Index(learners["course"].unique(), name="course_id")
    done = learners[learners["completed"]]
    _, last_event = source.span()
    days = pd.Series(np.nan, index=courses)
    if not done.empty and last_event is not None:
        finals = source.execute(reached).merge(done[["user_id", "course", "lessons", "purchased_at"]], on=["user_id", "course"])
        finals = finals[finals["lesson"] >= finals["lessons"]]
        took = finals.groupby(["user_id", "course"]).agg(at=("reached_at", "min"), bought=("purchased_at", "first"))
        took = ((took["at"] - took["bought"]).dt.total_seconds() / 86400).groupby(level="course")
        own = took.quantile(COMPLETION_QUANTILE).where(took.size() >= MIN_COMPLETERS)
        pooled = took.obj.quantile(COMPLETION_QUANTILE) if len(took.obj) >= MIN_COMPLETERS else np.nan
        days = own.reindex(courses).fillna(pooled)
    cutoff = pd.Timestamp(last_event) - pd.to_timedelta(learners["course"].map(days), unit="D")
    recent = (learners["purchased_at"] > cutoff).groupby(learners["course"]).sum().reindex(courses)
    return pd.DataFrame({"days_to_complete": days, "recent_buyers": recent.astype("Int64").where(days.notna())},
                        index=courses).reset_index()


def _lesson_grid(course_list: pd.DataFrame, learners: pd.DataFrame) -> pd.DataFrame:
    """One row per bought course and step 0..lessons: ``count`` = learners whose last lesson is that step.

    Vectorised (no per-course loop): a catalog may hold thousands of courses.
    """
    bought = course_list[course_list.course_id.isin(learners.course.unique())].sort_values("course_id")
    sizes = bought.lessons.to_numpy().astype("int64") + 1
    course = np.repeat(bought.course_id.to_numpy(), sizes)
    step = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    counts = learners.groupby(["course", "last_lesson"]).size()
    counts = counts.reindex(pd.MultiIndex.from_arrays([course, step]), fill_value=0).to_numpy()
    return pd.DataFrame({"course_id": course, "step": step, "count": counts.astype("int64")})


def _funnel_table(course_list: pd.DataFrame, learners: pd.DataFrame) -> pd.DataFrame:
    grid = _lesson_grid(course_list, learners)
    by_course = grid.iloc[::-1].groupby("course_id", sort=False)["count"]
    grid["learners"] = by_course.cumsum().iloc[::-1]  # learners whose last lesson >= step
    g = grid.groupby("course_id", sort=False)["learners"]
    first = g.transform("first")
    previous = g.shift(1).fillna(grid["learners"])
    with np.errstate(divide="ignore", invalid="ignore"):
        grid["conversion_from_previous"] = np.where(previous > 0, grid["learners"] / previous.clip(lower=1), np.nan)
        grid["conversion_from_first"] = grid["learners"] / first
    grid["learners"] = grid["learners"].astype("int64")
    return grid[["course_id", "step", "learners", "conversion_from_previous", "conversion_from_first"]]


def _stops_table(course_list: pd.DataFrame, learners: pd.DataFrame) -> pd.DataFrame:
    grid = _lesson_grid(course_list, learners).rename(columns={"step": "last_lesson", "count": "learners"})
    grid["share"] = grid["learners"] / grid.groupby("course_id", sort=False)["learners"].transform("sum")
    return grid[["course_id", "last_lesson", "learners", "share"]]


def _split_table(learners: pd.DataFrame, by: SplitBy) -> pd.DataFrame:
    df = learners.assign(acquired=learners["video"].notna(), group=learners[by])
    g = df.groupby(["course", "acquired", "group"], dropna=False)
    out = pd.DataFrame({
        "buyers": g.size(),
        "started": g["started"].sum(),
        "completed": g["completed"].sum(),
        "avg_progress": g["progress"].mean(),
    }).reset_index()
    out["completion_rate"] = out["completed"] / out["buyers"]
    out = out.rename(columns={"course": "course_id"})
    out.insert(1, "by", by)
    out["group"] = out["group"].astype(object).where(out["group"].notna(), None)
    out = out.sort_values(["course_id", "acquired", "buyers"], ascending=[True, False, False]).reset_index(drop=True)
    for c in ("buyers", "started", "completed"):
        out[c] = out[c].astype("int64")
    return out[["course_id", "by", "group", "acquired", "buyers", "started", "completed", "completion_rate", "avg_progress"]]


def _gaps(source, buyers, reached, n_lessons: pd.Series) -> pd.DataFrame:
    """Median and p90 hours from step k-1 (0 = purchase) to the first reach of lesson k, per course."""
    starts = buyers.select(user_id="user_id", course="course", lesson=ibis.literal(0, "int32"), reached_at="purchased_at")
    steps = reached.select(
        user_id="user_id", course="course", lesson=reached.lesson.cast("int32"), reached_at="reached_at"
    ).union(starts)
    nxt = steps.select(n_user="user_id", n_course="course", n_lesson="lesson", n_at="reached_at")
    pairs = steps.join(
        nxt,
        (steps.user_id == nxt.n_user) & (steps.course == nxt.n_course) & (nxt.n_lesson == steps.lesson + 1),
    )
    pairs = pairs.filter(pairs.n_at >= pairs.reached_at)
    hours = (pairs.n_at.epoch_seconds() - pairs.reached_at.epoch_seconds()) / 3600.0
    pairs = pairs.mutate(hours=hours)
    out = source.execute(pairs.group_by(["course", "n_lesson"]).aggregate(
        learners=pairs.count(),
        median_hours=pairs.hours.median(),
        p90_hours=pairs.hours.quantile(0.9),
    ))
    out = out.rename(columns={"course": "course_id", "n_lesson": "to_step"})
    cols = ["course_id", "from_step", "to_step", "learners", "median_hours", "p90_hours"]
    if out.empty:
        return pd.DataFrame(columns=cols)
    out = out[out.to_step.to_numpy() <= out.course_id.map(n_lessons).to_numpy()].copy()
    out.insert(1, "from_step", out["to_step"] - 1)
    out["learners"] = out["learners"].astype("int64")
    return out[cols].sort_values(["course_id", "to_step"]).reset_index(drop=True)
