#!/usr/bin/env python3
"""Build crates/huifang-app/data/provinces.geojson from Natural Earth.

Input: the Natural Earth 1:10m "Admin 1 - States, Provinces" layer
(ne_10m_admin_1_states_provinces) as GeoJSON (plain or .gz).
Output: one Feature per province-level division of China, properties
{"code", "name", "name_en"} with the two-digit GB/T 2260 code.

Steps (see data/provinces.SOURCE.md):
  1. keep the features of China (adm0_a3 CHN), and unless --mainland-only,
     Taiwan (TWN), Hong Kong (HKG) and Macau (MAC); map each to its GB/T 2260
     code (the Paracel Islands unit goes to Hainan, 46; Taiwan's counties, Hong
     Kong's districts are merged into 71 and 81);
  2. round every coordinate to --decimals places (default 5, about 1 m) and
     drop repeated points;
  3. dissolve the parts of each code into one (Multi)Polygon by cancelling the
     edges that two parts share (Natural Earth's neighbouring units share their
     vertices exactly);
  4. simplify with Douglas-Peucker (--tolerance degrees, default 0.001, about
     100 m) on shared arcs: every ring is cut at the points where the set of
     rings using a boundary changes, each arc is simplified once and the same
     result is used by both neighbours, so no gaps or overlaps appear;
  5. drop rings that collapsed below 4 points and islands smaller than
     --min-island-area square degrees (default 0: keep all);
  6. check every ring is closed, has >= 4 points and does not cross itself or
     another ring of its polygon; orient exteriors counter-clockwise and holes
     clockwise (RFC 7946); write compact GeoJSON sorted by code.

Usage: python3 scripts/provinces.py SOURCE.geojson [-o OUT] [--tolerance DEG]
Pure Python 3 standard library; no GIS packages needed.
"""

import argparse
import gzip
import json
import math
import sys
from collections import defaultdict

# ISO 3166-2 letter suffix used by Natural Earth -> (GB/T 2260 code, name, name_en)
PROVINCES = {
    "BJ": ("11", "北京市", "Beijing"),
    "TJ": ("12", "天津市", "Tianjin"),
    "HE": ("13", "河北省", "Hebei"),
    "SX": ("14", "山西省", "Shanxi"),
    "NM": ("15", "内蒙古自治区", "Inner Mongolia"),
    "LN": ("21", "辽宁省", "Liaoning"),
    "JL": ("22", "吉林省", "Jilin"),
    "HL": ("23", "黑龙江省", "Heilongjiang"),
    "SH": ("31", "上海市", "Shanghai"),
    "JS": ("32", "江苏省", "Jiangsu"),
    "ZJ": ("33", "浙江省", "Zhejiang"),
    "AH": ("34", "安徽省", "Anhui"),
    "FJ": ("35", "福建省", "Fujian"),
    "JX": ("36", "江西省", "Jiangxi"),
    "SD": ("37", "山东省", "Shandong"),
    "HA": ("41", "河南省", "Henan"),
    "HB": ("42", "湖北省", "Hubei"),
    "HN": ("43", "湖南省", "Hunan"),
    "GD": ("44", "广东省", "Guangdong"),
    "GX": ("45", "广西壮族自治区", "Guangxi"),
    "HI": ("46", "海南省", "Hainan"),
    "CQ": ("50", "重庆市", "Chongqing"),
    "SC": ("51", "四川省", "Sichuan"),
    "GZ": ("52", "贵州省", "Guizhou"),
    "YN": ("53", "云南省", "Yunnan"),
    "XZ": ("54", "西藏自治区", "Tibet"),
    "SN": ("61", "陕西省", "Shaanxi"),
    "GS": ("62", "甘肃省", "Gansu"),
    "QH": ("63", "青海省", "Qinghai"),
    "NX": ("64", "宁夏回族自治区", "Ningxia"),
    "XJ": ("65", "新疆维吾尔自治区", "Xinjiang"),
}
OTHERS = {
    "TWN": ("71", "台湾省", "Taiwan"),
    "HKG": ("81", "香港特别行政区", "Hong Kong"),
    "MAC": ("82", "澳门特别行政区", "Macau"),
}
# Cross-check the ISO 3166-2 mapping against the Chinese name Natural Earth gives
# each mainland unit (name_zh).
NE_NAME_ZH_CHECK = True


def load(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def code_of(props, mainland_only):
    """GB/T 2260 entry for a Natural Earth admin-1 feature, or None to skip it."""
    adm0 = props.get("adm0_a3")
    if adm0 == "CHN":
        iso = props.get("iso_3166_2") or ""
        if props.get("name") == "Paracel Islands" or iso == "CN-X01~":
            return PROVINCES["HI"]  # administered by Hainan (Sansha)
        suffix = iso.split("-", 1)[1] if iso.startswith("CN-") else ""
        if suffix not in PROVINCES:
            raise SystemExit("unmapped Chinese admin-1 unit: %r %r" % (iso, props.get("name")))
        entry = PROVINCES[suffix]
        zh = props.get("name_zh")
        if NE_NAME_ZH_CHECK and zh and zh != entry[1]:
            raise SystemExit("name mismatch for %s: source %r, table %r" % (iso, zh, entry[1]))
        return entry
    if adm0 in OTHERS and not mainland_only:
        return OTHERS[adm0]
    return None


def polygons_of(geom):
    if geom["type"] == "Polygon":
        return [geom["coordinates"]]
    if geom["type"] == "MultiPolygon":
        return geom["coordinates"]
    raise SystemExit("unexpected geometry type %s" % geom["type"])


def signed_area(ring):
    """Shoelace area of an open ring (last point != first); > 0 counter-clockwise."""
    s = 0.0
    n = len(ring)
    for i in range(n):
        x1, y1 = ring[i]
        x2, y2 = ring[(i + 1) % n]
        s += x1 * y2 - x2 * y1
    return s / 2.0


def clean_ring(ring, decimals):
    """Round, drop repeated points and the closing point: an open ring of tuples."""
    out = []
    for x, y in ring:
        p = (round(x, decimals), round(y, decimals))
        if not out or out[-1] != p:
            out.append(p)
    while len(out) > 1 and out[0] == out[-1]:
        out.pop()
    # remove spikes A-B-A (B is dropped along with the repeated A)
    found = True
    while found and len(out) >= 3:
        found = False
        n = len(out)
        for i in range(n):
            if out[i - 1] == out[(i + 1) % n]:
                for k in sorted((i, (i + 1) % n), reverse=True):
                    del out[k]
                found = True
                break
    return out


def oriented(ring, ccw):
    a = signed_area(ring)
    if (a > 0) != ccw:
        return ring[::-1]
    return ring


def point_in_ring(x, y, ring):
    """Even-odd ray casting on an open ring."""
    inside = False
    n = len(ring)
    j = n - 1
    for i in range(n):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > y) != (yj > y):
            xc = xi + (y - yi) * (xj - xi) / (yj - yi)
            if x < xc:
                inside = not inside
        j = i
    return inside


def dissolve(polys):
    """Merge polygons that share edges, by cancelling each edge met in both directions.

    polys: list of [exterior, hole, ...] open rings (tuples).  Returns a list of
    open rings, exteriors counter-clockwise and holes clockwise.
    """
    edges = defaultdict(int)
    for poly in polys:
        for k, ring in enumerate(poly):
            r = oriented(ring, ccw=(k == 0))
            n = len(r)
            for i in range(n):
                edges[(r[i], r[(i + 1) % n])] += 1
    # cancel opposite pairs
    for (a, b) in list(edges):
        c = edges.get((a, b), 0)
        d = edges.get((b, a), 0)
        if c and d:
            m = min(c, d)
            edges[(a, b)] = c - m
            edges[(b, a)] = d - m
    outgoing = defaultdict(list)
    for (a, b), c in edges.items():
        for _ in range(c):
            outgoing[a].append(b)
    rings = []

    def take_next(prev, cur):
        cands = outgoing[cur]
        if len(cands) == 1:
            return cands.pop()
        # several ways out of a vertex: take the sharpest left turn, which keeps
        # the interior on the left and the rings simple
        ax, ay = cur[0] - prev[0], cur[1] - prev[1]
        best = None
        best_angle = None
        for k, nxt in enumerate(cands):
            bx, by = nxt[0] - cur[0], nxt[1] - cur[1]
            ang = math.atan2(ax * by - ay * bx, ax * bx + ay * by)
            if best_angle is None or ang > best_angle:
                best, best_angle = k, ang
        return cands.pop(best)

    for start in list(outgoing):
        while outgoing[start]:
            ring = [start]
            prev = start
            cur = outgoing[start].pop()
            while cur != start:
                ring.append(cur)
                nxt = take_next(prev, cur)
                prev, cur = cur, nxt
            if len(ring) >= 3:
                rings.append(ring)
    return rings


def assemble(rings):
    """Group open rings into polygons: CCW rings are exteriors, CW rings holes."""
    exteriors = [r for r in rings if signed_area(r) > 0]
    holes = [r for r in rings if signed_area(r) < 0]
    polys = [[e] for e in exteriors]
    areas = [signed_area(e) for e in exteriors]
    for h in holes:
        best = None
        for i, e in enumerate(exteriors):
            evs = set(e)
            probe = next((p for p in h if p not in evs), None)
            if probe is None:
                # hole made only of exterior vertices: test an edge midpoint
                probe = ((h[0][0] + h[1][0]) / 2.0, (h[0][1] + h[1][1]) / 2.0)
            if point_in_ring(probe[0], probe[1], e):
                if best is None or areas[i] < areas[best]:
                    best = i
        if best is None:
            raise SystemExit("a hole lies in no exterior ring")
        polys[best].append(h)
    return polys


def seg_dist2(p, a, b):
    ax, ay = a
    bx, by = b
    px, py = p
    dx, dy = bx - ax, by - ay
    if dx == 0 and dy == 0:
        return (px - ax) ** 2 + (py - ay) ** 2
    t = ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)
    t = max(0.0, min(1.0, t))
    qx, qy = ax + t * dx, ay + t * dy
    return (px - qx) ** 2 + (py - qy) ** 2


def douglas_peucker(points, tol):
    """Douglas-Peucker keeping both ends; iterative."""
    n = len(points)
    if n <= 2 or tol <= 0:
        return list(points)
    keep = [False] * n
    keep[0] = keep[-1] = True
    tol2 = tol * tol
    stack = [(0, n - 1)]
    while stack:
        i, j = stack.pop()
        if j <= i + 1:
            continue
        a, b = points[i], points[j]
        far, far_d = -1, -1.0
        for k in range(i + 1, j):
            d = seg_dist2(points[k], a, b)
            if d > far_d:
                far, far_d = k, d
        if far_d > tol2:
            keep[far] = True
            stack.append((i, far))
            stack.append((far, j))
    return [p for p, k in zip(points, keep) if k]


def simplify_all(features, tol):
    """Topology-preserving simplification of every ring of every feature.

    features: list of (entry, polys) where polys are lists of open rings.
    """
    # 1. junctions: points met with more than one pair of neighbours
    neighbours = {}
    junctions = set()
    for _, polys in features:
        for poly in polys:
            for ring in poly:
                n = len(ring)
                for i in range(n):
                    p = ring[i]
                    pair = frozenset((ring[i - 1], ring[(i + 1) % n]))
                    seen = neighbours.get(p)
                    if seen is None:
                        neighbours[p] = pair
                    elif seen != pair:
                        junctions.add(p)
    cache = {}

    def simplify_arc(arc):
        fwd = tuple(arc)
        rev = fwd[::-1]
        key = min(fwd, rev)
        if key not in cache:
            cache[key] = douglas_peucker(list(key), tol)
        out = cache[key]
        return list(out) if key == fwd else out[::-1]

    def simplify_ring(ring):
        n = len(ring)
        cuts = [i for i in range(n) if ring[i] in junctions]
        if not cuts:
            # closed arc: start at its smallest point, direction by the smaller neighbour
            s = min(range(n), key=lambda i: ring[i])
            r = ring[s:] + ring[:s]
            flip = r[-1] < r[1]
            if flip:
                r = [r[0]] + r[1:][::-1]
            closed = r + [r[0]]
            key = tuple(closed)
            if key not in cache:
                # split at the point farthest from the start so DP has a real chord
                far = max(range(len(closed)), key=lambda k: (closed[k][0] - closed[0][0]) ** 2 + (closed[k][1] - closed[0][1]) ** 2)
                first = douglas_peucker(closed[: far + 1], tol)
                second = douglas_peucker(closed[far:], tol)
                cache[key] = first + second[1:]
            out = cache[key][:-1]
            if flip:
                out = [out[0]] + out[1:][::-1]
            return out
        r = ring[cuts[0]:] + ring[: cuts[0]]
        cuts = [c - cuts[0] for c in cuts] + [n]
        out = []
        closed = r + [r[0]]
        for a, b in zip(cuts, cuts[1:]):
            piece = simplify_arc(closed[a: b + 1])
            out.extend(piece[:-1])
        return out

    result = []
    for entry, polys in features:
        new_polys = []
        for poly in polys:
            ext = simplify_ring(poly[0])
            if len(ext) < 3 or abs(signed_area(ext)) == 0:
                continue
            holes = []
            for h in poly[1:]:
                hs = simplify_ring(h)
                if len(hs) >= 3 and signed_area(hs) != 0:
                    holes.append(hs)
            new_polys.append([ext] + holes)
        result.append((entry, new_polys))
    return result


def segments_cross(p1, p2, p3, p4):
    """True if segments p1p2 and p3p4 properly intersect or overlap (not merely touch
    at a shared end point)."""
    def orient(a, b, c):
        v = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        return (v > 0) - (v < 0)

    def on_seg(a, b, c):
        return min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])

    shared = {p1, p2} & {p3, p4}
    o1, o2 = orient(p1, p2, p3), orient(p1, p2, p4)
    o3, o4 = orient(p3, p4, p1), orient(p3, p4, p2)
    if shared:
        # touching at a common vertex is fine; collinear overlap is not
        if o1 == 0 and o2 == 0:
            return any(on_seg(p1, p2, q) and q not in (p1, p2) for q in (p3, p4)) or any(
                on_seg(p3, p4, q) and q not in (p3, p4) for q in (p1, p2))
        return False
    if o1 != o2 and o3 != o4:
        return True
    if o1 == 0 and on_seg(p1, p2, p3):
        return True
    if o2 == 0 and on_seg(p1, p2, p4):
        return True
    if o3 == 0 and on_seg(p3, p4, p1):
        return True
    if o4 == 0 and on_seg(p3, p4, p2):
        return True
    return False


def polygon_problems(poly, cell=0.05):
    """Crossings between the edges of a polygon's rings (grid-bucketed)."""
    segs = []
    for ri, ring in enumerate(poly):
        n = len(ring)
        for i in range(n):
            segs.append((ri, i, n, ring[i], ring[(i + 1) % n]))
    grid = defaultdict(list)
    for k, (_, _, _, a, b) in enumerate(segs):
        x0, x1 = sorted((a[0], b[0]))
        y0, y1 = sorted((a[1], b[1]))
        for gx in range(int(math.floor(x0 / cell)), int(math.floor(x1 / cell)) + 1):
            for gy in range(int(math.floor(y0 / cell)), int(math.floor(y1 / cell)) + 1):
                grid[(gx, gy)].append(k)
    problems = set()
    for bucket in grid.values():
        for u in range(len(bucket)):
            for v in range(u + 1, len(bucket)):
                k1, k2 = bucket[u], bucket[v]
                r1, i1, n1, a, b = segs[k1]
                r2, i2, n2, c, d = segs[k2]
                if r1 == r2 and (abs(i1 - i2) == 1 or abs(i1 - i2) == n1 - 1):
                    continue  # neighbouring edges of one ring
                if segments_cross(a, b, c, d):
                    problems.add((min(k1, k2), max(k1, k2)))
    return [(segs[a][3], segs[b][3]) for a, b in problems]


def round_tuple(p, decimals):
    return [round(p[0], decimals), round(p[1], decimals)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="ne_10m_admin_1_states_provinces GeoJSON (or .gz)")
    ap.add_argument("-o", "--output", default="crates/huifang-app/data/provinces.geojson")
    ap.add_argument("--tolerance", type=float, default=0.001,
                    help="Douglas-Peucker tolerance in degrees (default 0.001, about 100 m)")
    ap.add_argument("--decimals", type=int, default=5, help="coordinate decimals (default 5)")
    ap.add_argument("--min-island-area", type=float, default=0.0,
                    help="drop polygons whose exterior is smaller than this, in square degrees")
    ap.add_argument("--mainland-only", action="store_true",
                    help="leave out Taiwan (71), Hong Kong (81) and Macau (82)")
    args = ap.parse_args(argv)
    if not 0 <= args.tolerance <= 0.01:
        ap.error("tolerance must be between 0 and 0.01 degree")

    src = load(args.source)
    by_code = defaultdict(list)
    entries = {}
    for f in src["features"]:
        entry = code_of(f.get("properties") or {}, args.mainland_only)
        if entry is None:
            continue
        entries[entry[0]] = entry
        for poly in polygons_of(f["geometry"]):
            rings = [clean_ring(r, args.decimals) for r in poly]
            if len(rings[0]) < 3:
                continue
            by_code[entry[0]].append([r for r in rings if len(r) >= 3])
    expected = {v[0] for v in PROVINCES.values()}
    missing = expected - set(by_code)
    if missing:
        raise SystemExit("source lacks provinces %s" % sorted(missing))

    features = []
    for code in sorted(by_code):
        polys = assemble(dissolve(by_code[code]))
        features.append((entries[code], polys))

    features = simplify_all(features, args.tolerance)

    out_features = []
    problems = 0
    for (code, name, name_en), polys in features:
        kept = []
        for poly in polys:
            ext = oriented(poly[0], ccw=True)
            if abs(signed_area(ext)) < args.min_island_area:
                continue
            holes = [oriented(h, ccw=False) for h in poly[1:] if len(h) >= 3]
            poly = [ext] + holes
            for a, b in polygon_problems(poly):
                problems += 1
                print("warning: %s %s: edges cross near %s / %s" % (code, name_en, a, b), file=sys.stderr)
            kept.append(poly)
        coords = []
        for poly in kept:
            rings = []
            for ring in poly:
                closed = [round_tuple(p, args.decimals) for p in ring]
                closed.append(closed[0])
                assert len(closed) >= 4 and closed[0] == closed[-1]
                rings.append(closed)
            coords.append(rings)
        geom = ({"type": "Polygon", "coordinates": coords[0]} if len(coords) == 1
                else {"type": "MultiPolygon", "coordinates": coords})
        out_features.append({
            "type": "Feature",
            "properties": {"code": code, "name": name, "name_en": name_en},
            "geometry": geom,
        })
    if problems:
        raise SystemExit("%d crossing edge pairs; try a smaller --tolerance" % problems)

    fc = {"type": "FeatureCollection", "features": out_features}
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(fc, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    npts = sum(len(r) for ft in out_features for p in polygons_of(ft["geometry"]) for r in p)
    print("wrote %s: %d features, %d points" % (args.output, len(out_features), npts))


if __name__ == "__main__":
    main()
