//! Motion and camera-tamper analysis over luma frames.
