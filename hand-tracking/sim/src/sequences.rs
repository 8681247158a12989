//! The fixed evaluation sequences: scripted hand motions in front of the
//! simulated headset's cameras, with exact ground truth.
