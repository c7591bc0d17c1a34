//! Element bits of constants: the scalar behind a splat constant, the first element, bitwise.

use crate::array::{Data, Element};
use ndarray::ArrayD;

/// A scalar holding the first element of `d`, bits unchanged (`None` when `d` is empty).
pub(crate) fn first_element(d: &Data) -> Option<Data> {
    fn first<T: Element>(a: &ArrayD<T>) -> Option<Data> {
        a.iter().next().map(|&v| T::into_data(ndarray::arr0(v).into_dyn()))
    }
    crate::array::with_data!(d, a => first(a))
}

/// The one element of `d` as a scalar, when every element has the same bits (and there is at
/// least one).
pub(crate) fn splat_scalar(d: &Data) -> Option<Data> {
    if d.is_splat() {
        first_element(d)
    } else {
        None
    }
}
