//! The codec's camera path in one step: MediaPipe's face landmarks
//! ([`parallax_hand_tracking::face`]) in a face camera's or a webcam's
//! image, then the face model fitted to them ([`crate::face_fit`]), giving
//! the ARKit weights the codec encodes. The face's region follows the
//! landmarks from frame to frame; it starts, and starts again whenever the
//! face is lost, as the image's centred square (a face camera sees the face
//! there; a webcam user sits in front of it).

use crate::face_fit::{FaceFit, FaceFitter, FitError, Intrinsics, LandmarkMap};
use crate::face_model::FaceModel;
use parallax_hand_tracking::face::{centre_roi, FaceLandmarker, FaceLandmarks};
use parallax_hand_tracking::landmark::Image;
use parallax_hand_tracking::palm::Roi;
use parallax_hand_tracking::GraphError;

#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    #[error("face landmark model: {0}")]
    Model(#[from] GraphError),
    #[error("fit: {0}")]
    Fit(#[from] FitError),
}

/// The landmarks of a face found afresh in `image` (see
/// [`FaceTracker::track`]).
pub fn find(landmarker: &FaceLandmarker, image: &Image) -> Result<FaceLandmarks, TrackError> {
    let (w, h) = (image.width(), image.height());
    let mut l = landmarker.landmarks(image, &centre_roi(w, h))?;
    for _ in 0..2 {
        if l.presence < 0.5 {
            break;
        }
        l = landmarker.landmarks(image, &l.next_roi(w, h))?;
    }
    Ok(l)
}

/// One frame's result.
#[derive(Clone, Debug)]
pub struct Tracked {
    pub landmarks: FaceLandmarks,
    /// `None` when no face was there (presence below the threshold).
    pub fit: Option<FaceFit>,
}

/// Face landmarks and the model fit, frame after frame.
#[derive(Debug)]
pub struct FaceTracker {
    landmarker: FaceLandmarker,
    fitter: FaceFitter,
    roi: Option<Roi>,
    /// Frames whose face presence is below this have no face (MediaPipe:
    /// 0.5).
    pub min_presence: f32,
}

impl FaceTracker {
    /// The landmark model from `models` (see
    /// [`parallax_hand_tracking::models_dir`]) and the committed landmark
    /// map of `model`, for images from `camera`.
    pub fn new(
        models: &std::path::Path,
        model: &FaceModel,
        camera: Intrinsics,
    ) -> Result<FaceTracker, TrackError> {
        Ok(FaceTracker {
            landmarker: FaceLandmarker::load(models, &candle_core::Device::Cpu)?,
            fitter: FaceFitter::new(model, &LandmarkMap::ict_facekit(model), camera),
            roi: None,
            min_presence: 0.5,
        })
    }

    /// The landmark model alone (for calibration).
    pub fn landmarker(&self) -> &FaceLandmarker {
        &self.landmarker
    }

    /// A face found afresh: looked for in the centred square, then twice
    /// more in the region the landmarks just found give (the centred square
    /// may frame the face loosely; the model wants it to fill two thirds of
    /// the crop).
    fn find(&self, image: &Image) -> Result<FaceLandmarks, TrackError> {
        find(&self.landmarker, image)
    }

    /// Tracks the face in the next image.
    pub fn track(&mut self, image: &Image) -> Result<Tracked, TrackError> {
        let (w, h) = (image.width(), image.height());
        let landmarks = match self.roi {
            Some(roi) => self.landmarker.landmarks(image, &roi)?,
            None => self.find(image)?,
        };
        if landmarks.presence < self.min_presence {
            self.roi = None;
            self.fitter.reset();
            return Ok(Tracked {
                landmarks,
                fit: None,
            });
        }
        self.roi = Some(landmarks.next_roi(w, h));
        let fit = self.fitter.fit(&landmarks.points)?;
        Ok(Tracked {
            landmarks,
            fit: Some(fit),
        })
    }
}
