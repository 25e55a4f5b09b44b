//! The keyboard's side of the cover over a button that loses something (`style/main.css`): a
//! press within a moment of the button appearing, or of the last press refused, is not taken.
//! A game on another site can ask for a click and then Tab and Enter, which the cover does not
//! stop (red team: a revoke 59 ms after its dialog opened).

use leptos::prelude::*;

use crate::dom;

/// How long a button that loses something waits, as the cover does.
const MOMENT_MS: f64 = 600.0;

/// When a button that loses something appeared, or was last pressed too soon.
#[derive(Clone, Copy)]
pub struct Arming(StoredValue<f64>);

impl Arming {
    /// Starts the wait now, as the button appears.
    pub fn start() -> Self {
        Self(StoredValue::new(dom::now_ms()))
    }

    /// Whether a press now is taken; if not, the wait starts again.
    pub fn take(self) -> bool {
        let now = dom::now_ms();
        let taken = now - self.0.get_value() >= MOMENT_MS;
        if !taken {
            self.0.set_value(now);
        }
        taken
    }
}
