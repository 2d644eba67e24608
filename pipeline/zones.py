"""Per-camera plate filters: zones (polygons) and a minimum plate width. Pure geometry, no I/O.

Zone points are normalised to the frame, 0..1 from the left/top edge, not pixels: a camera whose resolution
changes (a new stream profile, a substream) keeps its zones. A read is kept when the centre of its box lies in
any zone (no zones = the whole frame) and its box is at least `min_plate_width` pixels wide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shapely.geometry import MultiPoint, Point, Polygon
from shapely.prepared import PreparedGeometry, prep

from pipeline.records import Box

MAX_POINTS = 100  # per polygon: enough for any road outline, and bounds the work per read
MAX_ZONES = 20

Points = Sequence[Sequence[float]]


def check_zones(zones: Sequence[Points]) -> list[list[list[float]]]:
    """The zones as plain [[x, y], ...] lists, or ValueError saying which polygon is wrong and why."""
    if len(zones) > MAX_ZONES:
        raise ValueError(f"at most {MAX_ZONES} zones per camera, got {len(zones)}")
    return [_check_polygon(i, points) for i, points in enumerate(zones)]


def _check_polygon(index: int, points: Points) -> list[list[float]]:
    where = f"zone {index}"
    if len(points) < 3:
        raise ValueError(f"{where}: a polygon needs at least 3 points, got {len(points)}")
    if len(points) > MAX_POINTS:
        raise ValueError(f"{where}: at most {MAX_POINTS} points per polygon, got {len(points)}")
    out = []
    for point in points:
        if len(point) != 2:
            raise ValueError(f"{where}: each point is [x, y], got {list(point)}")
        x, y = float(point[0]), float(point[1])
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):  # also rejects NaN
            raise ValueError(f"{where}: point [{x}, {y}] is outside 0..1 (coordinates are fractions of the frame)")
        out.append([x, y])
    if MultiPoint(out).convex_hull.area <= 0:  # the hull, not the polygon: a bow tie's halves cancel out
        raise ValueError(f"{where}: the polygon has no area (its points are on one line)")
    if not Polygon(out).is_valid:  # edges crossing (a bow tie) or touching
        raise ValueError(f"{where}: the polygon intersects itself")
    return out


@dataclass(frozen=True)
class PlateFilter:
    """Which reads of one camera matter. Build with `from_config`; the default keeps everything."""

    zones: tuple[PreparedGeometry, ...] = ()
    min_plate_width: int = 0

    @classmethod
    def from_config(cls, zones: Sequence[Points] | None, min_plate_width: int | None) -> PlateFilter:
        """From stored camera fields; they were validated on the way in, so this does not check them again."""
        polygons = tuple(tuple((float(x), float(y)) for x, y in zone) for zone in zones or ())
        return cls(tuple(prep(Polygon(p)) for p in polygons), max(0, min_plate_width or 0))

    @property
    def keeps_everything(self) -> bool:
        return not self.zones and self.min_plate_width <= 0

    def keeps(self, box: Box, frame_width: int, frame_height: int) -> bool:
        if box.width < self.min_plate_width:
            return False
        if not self.zones:
            return True
        centre = Point((box.x1 + box.x2) / 2 / max(frame_width, 1), (box.y1 + box.y2) / 2 / max(frame_height, 1))
        return any(zone.intersects(centre) for zone in self.zones)  # a centre on the edge counts as inside
