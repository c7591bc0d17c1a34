//! Shared by the examples that draw pictures: a system font for plotters' labels.

use plotters::style::FontStyle;

/// Registers a system font for labels; false when none is found (pictures then have no text).
pub fn register_font() -> bool {
    let candidates = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "C:\\Windows\\Fonts\\arial.ttf",
    ];
    candidates.iter().filter_map(|path| std::fs::read(path).ok()).any(|bytes| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, Box::leak(bytes.into_boxed_slice())).is_ok()
    })
}
