//! Returned-mail analysis (see issue: bounce analyser).
