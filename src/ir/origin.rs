//! Where in the user's code a node was made: the file and line of the public call (an
//! operator, a method, an `nn` function, ...) that recorded it, and whether the reverse sweep
//! made it for that call (a backward node).

use std::fmt;
use std::panic::Location;

/// The source of a node: the user's call that recorded it, captured with `#[track_caller]`.
///
/// A backward node (made by `dlgradient`'s reverse sweep) carries the origin of the forward
/// op whose VJP rule made it, with `backward` set. Printed as `file:line` or
/// `file:line (backward of)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The call site in the user's code.
    pub location: &'static Location<'static>,
    /// True when the reverse sweep made the node for the op at `location`.
    pub backward: bool,
}

impl Origin {
    /// A forward origin at `location`.
    pub fn new(location: &'static Location<'static>) -> Self {
        Origin { location, backward: false }
    }

    /// The origin of the caller of the function this is called from (which must be
    /// `#[track_caller]` for the caller to be the user's code).
    #[track_caller]
    pub fn caller() -> Self {
        Origin::new(Location::caller())
    }

    /// The same location, marked as backward.
    pub fn backward(self) -> Self {
        Origin { backward: true, ..self }
    }

    /// `file:line`, without the backward mark.
    pub fn file_line(&self) -> String {
        format!("{}:{}", self.location.file(), self.location.line())
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.location.file(), self.location.line())?;
        if self.backward {
            write!(f, " (backward of)")?;
        }
        Ok(())
    }
}
