//! What each tool does to pixels, stated as behaviour rather than golden images.

use apprentice::engine::stroke::{MAX_DABS_PER_STROKE, place_dabs};
use apprentice::engine::{Canvas, Engine, render};
use apprentice::ops::{Brush, Rgba, pb, pb::op::Kind};

const WHITE: Rgba = Rgba { r: 1.0, g: 1.0, b: 1.0, a: 1.0 };

fn header(w: u32, h: u32, bg: Option<Rgba>) -> pb::Header {
    pb::Header {
        width: w,
        height: h,
        background: bg.map(|c| pb::Color { r: c.r, g: c.g, b: c.b, a: Some(c.a) }),
        ..Default::default()
    }
}

fn color(r: f32, g: f32, b: f32) -> Option<pb::Color> {
    Some(pb::Color { r, g, b, a: None })
}

fn pt(x: f32, y: f32) -> pb::Point {
    pb::Point { x, y, ..Default::default() }
}

fn pt_p(x: f32, y: f32, pressure: f32, time_ms: u32) -> pb::Point {
    pb::Point { x, y, pressure: Some(pressure), time_ms, tilt: None }
}

fn stroke(tool: pb::Tool, brush: pb::BrushState, points: Vec<pb::Point>) -> pb::Op {
    pb::Op { kind: Some(Kind::Stroke(pb::Stroke { tool: tool as i32, brush: Some(brush), points })) }
}

fn brush(size: f32, hardness: f32) -> pb::BrushState {
    pb::BrushState { size, hardness: Some(hardness), color: color(0.0, 0.0, 0.0), ..Default::default() }
}

fn paint(h: &pb::Header, ops: &[pb::Op]) -> Engine {
    let mut e = Engine::new(h);
    for op in ops {
        apprentice::ops::validate::op(op, h).expect("test ops are valid");
        e.apply(op);
    }
    e
}

/// Darkness of a pixel painted black on white: 0 untouched, 1 fully covered.
fn ink(c: &Canvas, x: usize, y: usize) -> f32 {
    1.0 - c.color_at(x, y).r
}

/// Number of pixels in column `x` with at least half coverage.
fn column_width(c: &Canvas, x: usize) -> usize {
    (0..c.height()).filter(|&y| ink(c, x, y) >= 0.5).count()
}

#[test]
fn brush_line_is_as_wide_as_the_brush() {
    let h = header(200, 100, Some(WHITE));
    for size in [4.0, 9.0, 16.0, 40.0] {
        let e =
            paint(&h, &[stroke(pb::Tool::Brush, brush(size, 1.0), vec![pt(20.0, 50.0), pt(180.0, 50.0)])]);
        let width = column_width(e.canvas(), 100) as f32;
        assert!((width - size).abs() <= 1.0, "size {size}: half-coverage width {width}");
    }
}

#[test]
fn soft_brush_is_solid_in_the_core_and_fades_at_the_rim() {
    let h = header(200, 100, Some(WHITE));
    let e = paint(&h, &[stroke(pb::Tool::Brush, brush(40.0, 0.5), vec![pt(20.0, 50.0), pt(180.0, 50.0)])]);
    let c = e.canvas();
    assert!(ink(c, 100, 50) > 0.99);
    assert!(ink(c, 100, 50 - 8) > 0.99, "inside hardness × radius");
    let rim = ink(c, 100, 50 - 16);
    assert!(rim > 0.05 && rim < 0.95, "the falloff band is partial: {rim}");
    assert_eq!(ink(c, 100, 50 - 22), 0.0, "beyond the radius");
}

#[test]
fn stroke_opacity_caps_self_overlap() {
    // A zig-zag that crosses itself: wash mode must not darken the crossings.
    let h = header(100, 100, Some(WHITE));
    let b = pb::BrushState { opacity: Some(0.5), ..brush(12.0, 1.0) };
    let path = vec![pt(10.0, 10.0), pt(90.0, 90.0), pt(90.0, 10.0), pt(10.0, 90.0)];
    let e = paint(&h, &[stroke(pb::Tool::Brush, b, path)]);
    let crossing = ink(e.canvas(), 50, 50);
    let plain = ink(e.canvas(), 30, 30);
    assert!((plain - 0.5).abs() < 0.01, "{plain}");
    assert!((crossing - plain).abs() < 0.01, "crossing {crossing} vs plain {plain}");
}

#[test]
fn pressure_thins_and_lightens_the_line() {
    let h = header(200, 100, Some(WHITE));
    let line = |p| {
        stroke(pb::Tool::Brush, brush(20.0, 1.0), vec![pt_p(20.0, 50.0, p, 0), pt_p(180.0, 50.0, p, 100)])
    };
    let full = paint(&h, &[line(1.0)]);
    let light = paint(&h, &[line(0.5)]);
    assert!(column_width(light.canvas(), 100) < column_width(full.canvas(), 100));
    assert!((ink(light.canvas(), 100, 50) - 0.5).abs() < 0.02, "opacity follows pressure");
}

#[test]
fn wide_spacing_leaves_separate_dabs() {
    let h = header(200, 40, Some(WHITE));
    let b = pb::BrushState { spacing: Some(3.0), ..brush(6.0, 1.0) };
    let e = paint(&h, &[stroke(pb::Tool::Brush, b, vec![pt(20.0, 20.0), pt(180.0, 20.0)])]);
    let row: Vec<bool> = (0..200).map(|x| ink(e.canvas(), x, 20) > 0.5).collect();
    let dabs = row.windows(2).filter(|w| !w[0] && w[1]).count();
    // 160 px at 18 px spacing: the first dab plus 8 more.
    assert_eq!(dabs, 9, "{row:?}");
}

#[test]
fn pencil_is_aliased() {
    let h = header(100, 100, Some(WHITE));
    let e = paint(&h, &[stroke(pb::Tool::Pencil, brush(7.0, 0.0), vec![pt(10.0, 13.3), pt(90.0, 71.9)])]);
    let inks: Vec<f32> = e.canvas().pixels().iter().map(|p| 1.0 - p[0]).collect();
    assert!(inks.iter().all(|&v| v == 0.0 || (v - 1.0).abs() < 1e-6));
    assert!(inks.iter().any(|&v| v > 0.5));
}

#[test]
fn airbrush_builds_up_while_the_pen_rests() {
    let h = header(100, 100, Some(WHITE));
    let b = pb::BrushState { flow: Some(0.05), ..brush(30.0, 0.5) };
    let rest = |ms| stroke(pb::Tool::Airbrush, b, vec![pt_p(50.0, 50.0, 1.0, 0), pt_p(50.0, 50.0, 1.0, ms)]);
    let short = ink(paint(&h, &[rest(100)]).canvas(), 50, 50);
    let long = ink(paint(&h, &[rest(1000)]).canvas(), 50, 50);
    // One dab at t=0 and one each 20 ms: 6 and 51 dabs of 5 %.
    assert!((short - (1.0 - 0.95f32.powi(6))).abs() < 0.01, "{short}");
    assert!((long - (1.0 - 0.95f32.powi(51))).abs() < 0.01, "{long}");
}

#[test]
fn eraser_removes_alpha_only_along_its_path() {
    let red = Rgba { r: 0.8, g: 0.1, b: 0.1, a: 1.0 };
    let h = header(100, 60, Some(red));
    let b = pb::BrushState { opacity: Some(0.6), ..brush(10.0, 1.0) };
    let e = paint(&h, &[stroke(pb::Tool::Eraser, b, vec![pt(10.0, 30.0), pt(90.0, 30.0)])]);
    let c = e.canvas();
    let on_path = c.color_at(50, 30);
    assert!((on_path.a - 0.4).abs() < 0.01, "{on_path:?}");
    assert!((on_path.r - 0.8).abs() < 1e-4 && (on_path.g - 0.1).abs() < 1e-4, "colour kept: {on_path:?}");
    let untouched = Canvas::new(100, 60, red);
    for y in (0..60).filter(|y| !(23..=37).contains(y)) {
        for x in 0..100 {
            assert_eq!(c.get(x, y), untouched.get(x, y), "({x}, {y}) is off the path");
        }
    }
}

#[test]
fn smudge_drags_colour_along_the_stroke() {
    // Red on the left half, white on the right.
    let h = header(100, 40, Some(WHITE));
    let mut e = Engine::new(&h);
    for y in 0..40 {
        for p in e.canvas_mut().row_mut(y, 0, 50) {
            *p = [1.0, 0.0, 0.0, 1.0];
        }
    }
    let smudge = |x0, x1| {
        let b = pb::BrushState { smudge_rate: Some(0.8), ..brush(16.0, 0.5) };
        stroke(pb::Tool::Smudge, b, vec![pt(x0, 20.0), pt(x1, 20.0)])
    };
    let g = |e: &Engine, x| e.canvas().color_at(x, 20).g;

    let mut right = Engine::from_canvas(e.canvas().clone());
    right.apply(&smudge(30.0, 80.0));
    assert!(g(&right, 60) < 0.8, "red dragged into the white: g = {}", g(&right, 60));
    assert_eq!(g(&right, 95), 1.0, "beyond the stroke stays white");
    assert_eq!(g(&right, 10), 0.0, "behind the start stays red");

    let mut left = Engine::from_canvas(e.canvas().clone());
    left.apply(&smudge(70.0, 20.0));
    assert!(g(&left, 40) > 0.2, "white dragged into the red: g = {}", g(&left, 40));
    assert_eq!(g(&left, 60), g(&e, 60), "pixels the stroke moves away from keep their colour");
}

fn fill(x: f32, y: f32, tolerance: f32, contiguous: bool) -> pb::Op {
    pb::Op { kind: Some(Kind::Fill(pb::Fill { x, y, color: color(0.0, 0.0, 1.0), tolerance, contiguous })) }
}

const BLUE: Rgba = Rgba { r: 0.0, g: 0.0, b: 1.0, a: 1.0 };

#[test]
fn fill_stops_at_edges() {
    // A closed black ring (pencil) on white; filling inside leaves the outside alone.
    let h = header(100, 100, Some(WHITE));
    let ring: Vec<pb::Point> = (0..=64)
        .map(|i| {
            let a = i as f32 / 64.0 * std::f32::consts::TAU;
            pt(50.0 + 30.0 * a.cos(), 50.0 + 30.0 * a.sin())
        })
        .collect();
    let ring = stroke(pb::Tool::Pencil, brush(3.0, 1.0), ring);
    let e = paint(&h, &[ring.clone(), fill(50.0, 50.0, 0.1, true)]);
    let c = e.canvas();
    assert_eq!(c.color_at(50, 50), BLUE);
    assert_eq!(c.color_at(50, 22), BLUE, "fills up to the ring");
    assert_eq!(c.color_at(5, 5), WHITE, "outside the ring");
    assert_eq!(c.color_at(50, 80), Rgba { r: 0.0, g: 0.0, b: 0.0, a: 1.0 }, "the ring itself");

    // Not contiguous: the outside, the same white, fills too; the ring does not.
    let e = paint(&h, &[ring, fill(50.0, 50.0, 0.1, false)]);
    assert_eq!(e.canvas().color_at(5, 5), BLUE);
    assert_eq!(e.canvas().color_at(50, 80).b, 0.0);
}

#[test]
fn fill_tolerance_decides_how_far_it_spreads() {
    // A horizontal grey ramp: a higher tolerance reaches further from the seed.
    let h = header(101, 10, Some(WHITE));
    let mut e = Engine::new(&h);
    for y in 0..10 {
        for (x, p) in e.canvas_mut().row_mut(y, 0, 101).iter_mut().enumerate() {
            let v = x as f32 / 100.0;
            *p = [v, v, v, 1.0];
        }
    }
    let reach = |tol| {
        let mut e2 = Engine::from_canvas(e.canvas().clone());
        e2.apply(&fill(0.5, 5.0, tol, true));
        (0..101).filter(|&x| e2.canvas().color_at(x, 5) == BLUE).count()
    };
    assert_eq!(reach(0.0), 1);
    assert_eq!(reach(0.1), 11);
    assert_eq!(reach(0.5), 51);
}

#[test]
fn raster_patch_pastes_over_or_replaces_and_clips_at_the_edge() {
    let h = header(10, 10, Some(WHITE));
    let half_red = [255u8, 0, 0, 128];
    let patch = |mode: pb::PatchMode| pb::Op {
        kind: Some(Kind::RasterPatch(pb::RasterPatch {
            x: 8,
            y: -1,
            width: 4,
            height: 3,
            rgba: half_red.repeat(12),
            mode: mode as i32,
        })),
    };
    let over = paint(&h, &[patch(pb::PatchMode::Over)]);
    let c = over.canvas().color_at(9, 0);
    assert!((c.a - 1.0).abs() < 1e-6 && (c.g - 0.498).abs() < 0.01, "half red over white: {c:?}");
    assert_eq!(over.canvas().color_at(7, 0), WHITE);
    assert_eq!(over.canvas().color_at(9, 2), WHITE, "row 2 is below the patch");

    let replaced = paint(&h, &[patch(pb::PatchMode::Replace)]);
    let c = replaced.canvas().color_at(8, 1);
    assert!((c.a - 128.0 / 255.0).abs() < 1e-6 && (c.r - 1.0).abs() < 1e-6, "{c:?}");
}

#[test]
fn blend_modes_change_how_paint_meets_the_canvas() {
    let grey = Rgba { r: 0.5, g: 0.5, b: 0.5, a: 1.0 };
    let h = header(60, 20, Some(grey));
    let line = |blend: pb::BlendMode| {
        let b = pb::BrushState { color: color(0.5, 0.5, 0.5), blend: blend as i32, ..brush(10.0, 1.0) };
        paint(&h, &[stroke(pb::Tool::Brush, b, vec![pt(5.0, 10.0), pt(55.0, 10.0)])])
            .canvas()
            .color_at(30, 10)
            .r
    };
    assert!((line(pb::BlendMode::Normal) - 0.5).abs() < 1e-5);
    assert!((line(pb::BlendMode::Multiply) - 0.25).abs() < 1e-5);
    assert!((line(pb::BlendMode::Screen) - 0.75).abs() < 1e-5);
}

#[test]
fn undo_in_a_history_is_the_same_as_never_painting() {
    let h = header(64, 64, Some(WHITE));
    let a = stroke(pb::Tool::Brush, brush(8.0, 0.5), vec![pt(5.0, 5.0), pt(60.0, 40.0)]);
    let b = stroke(pb::Tool::Brush, brush(20.0, 0.5), vec![pt(5.0, 60.0), pt(60.0, 10.0)]);
    let undo = pb::Op { kind: Some(Kind::Undo(pb::Undo { count: None })) };
    let with_undo = pb::History { header: Some(h.clone()), ops: vec![a.clone(), b, undo] };
    let without = pb::History { header: Some(h), ops: vec![a] };
    assert_eq!(render(&with_undo).0.canvas(), render(&without).0.canvas());
}

#[test]
fn painting_is_deterministic_and_strokes_off_the_canvas_are_harmless() {
    let h = header(50, 50, Some(WHITE));
    let ops = vec![
        stroke(
            pb::Tool::Brush,
            brush(30.0, 0.2),
            vec![pt(-1000.0, -1000.0), pt(25.0, 25.0), pt(5000.0, 40.0)],
        ),
        stroke(pb::Tool::Smudge, brush(20.0, 0.5), vec![pt(-30.0, 25.0), pt(80.0, 25.0)]),
        stroke(
            pb::Tool::Airbrush,
            brush(2048.0, 0.5),
            vec![pt_p(25.0, 25.0, 0.01, 0), pt_p(25.0, 25.0, 0.01, 60)],
        ),
    ];
    let a = paint(&h, &ops);
    let b = paint(&h, &ops);
    assert_eq!(a.canvas(), b.canvas());
    assert!(a.canvas().pixels().iter().flatten().all(|v| v.is_finite() && (0.0..=1.0 + 1e-6).contains(v)));
}

#[test]
fn a_pathological_stroke_is_bounded() {
    // 100k points zig-zagging 130k px with a tiny brush: spacing widens instead of stalling.
    let points: Vec<pb::Point> =
        (0..100_000).map(|i| pt(if i % 2 == 0 { -65_000.0 } else { 65_000.0 }, 32.0)).collect();
    let op = pb::Stroke {
        tool: pb::Tool::Brush as i32,
        brush: Some(pb::BrushState { spacing: Some(0.02), ..brush(0.1, 1.0) }),
        points,
    };
    let mut dabs = 0u64;
    place_dabs(&op.points, &Brush::of(&op), |_| dabs += 1);
    assert!(dabs as f64 <= MAX_DABS_PER_STROKE * 1.01 + 1.0, "{dabs} dabs");
    assert!(dabs as f64 >= MAX_DABS_PER_STROKE * 0.9, "{dabs} dabs: the budget is used, not wasted");
}
