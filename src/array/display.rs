//! MATLAB-like display: `  1x2 f64 dlarray`, a blank line, then the values, right-aligned in
//! columns; arrays of more than two axes print one 2-D page per index of the leading axes.

use super::{Data, Element};
use num_complex::Complex64;
use std::fmt;

/// How every element of one array is printed: integers when all values are whole, otherwise
/// MATLAB's "short" format (four decimals, or exponent notation for very large or small values).
#[derive(Clone, Copy)]
enum Style {
    Integer,
    Fixed,
    Exponent,
    Logical,
}

fn style_of(values: &[Complex64], logical: bool) -> Style {
    if logical {
        return Style::Logical;
    }
    let parts = values.iter().flat_map(|c| [c.re, c.im]).filter(|v| v.is_finite());
    let mut whole = true;
    let mut max = 0.0f64;
    let mut min_nonzero = f64::INFINITY;
    for v in parts {
        whole &= v.fract() == 0.0 && v.abs() < 1e9;
        max = max.max(v.abs());
        if v != 0.0 {
            min_nonzero = min_nonzero.min(v.abs());
        }
    }
    if whole {
        Style::Integer
    } else if max >= 1e5 || min_nonzero < 1e-4 {
        Style::Exponent
    } else {
        Style::Fixed
    }
}

fn real_text(v: f64, style: Style) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Inf".into() } else { "-Inf".into() };
    }
    match style {
        Style::Integer | Style::Logical => format!("{v}"),
        Style::Fixed => format!("{v:.4}"),
        Style::Exponent => format!("{v:.4e}"),
    }
}

fn element_text(c: Complex64, complex: bool, style: Style) -> String {
    if !complex {
        return real_text(c.re, style);
    }
    let sign = if c.im < 0.0 || (c.im == 0.0 && c.im.is_sign_negative()) { '-' } else { '+' };
    format!("{} {sign} {}i", real_text(c.re, style), real_text(c.im.abs(), style))
}

fn size_text(shape: &[usize]) -> String {
    match shape.len() {
        0 => "1x1".into(),
        1 => format!("1x{}", shape[0]),
        _ => shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("x"),
    }
}

impl fmt::Display for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shape = self.shape().to_vec();
        writeln!(f, "  {} {} dlarray", size_text(&shape), self.dtype())?;
        let values = self.to_c128_vec();
        if values.is_empty() {
            return writeln!(f, "\n    (empty)");
        }
        let complex = self.dtype().is_complex();
        let style = style_of(&values, self.dtype() == <bool as Element>::DTYPE);
        let texts: Vec<String> = values.iter().map(|&c| element_text(c, complex, style)).collect();
        let width = texts.iter().map(String::len).max().unwrap_or(0);
        let (rows, cols) = match shape.len() {
            0 => (1, 1),
            1 => (1, shape[0]),
            n => (shape[n - 2], shape[n - 1]),
        };
        let page = rows * cols;
        let leading = &shape[..shape.len().saturating_sub(2)];
        for (p, chunk) in texts.chunks(page.max(1)).enumerate() {
            writeln!(f)?;
            if !leading.is_empty() {
                let mut index = Vec::with_capacity(leading.len());
                let mut rest = p;
                for &d in leading.iter().rev() {
                    index.push(rest % d);
                    rest /= d;
                }
                index.reverse();
                let head: Vec<String> = index.iter().map(|i| i.to_string()).collect();
                writeln!(f, "  [{}, :, :] =\n", head.join(", "))?;
            }
            for row in chunk.chunks(cols.max(1)) {
                write!(f, "  ")?;
                for t in row {
                    write!(f, "  {t:>width$}")?;
                }
                writeln!(f)?;
            }
        }
        Ok(())
    }
}
