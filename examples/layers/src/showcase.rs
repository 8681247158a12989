//! The showcase scene, drawn on the CPU into RGBA8 (sRGB) images: a sky
//! panorama (equirect layer), a floor seen through each eye (projection
//! layer, transparent where the sky shows through), a title panel (quad) and
//! a curved menu (cylinder). CPU drawing keeps the template free of shader
//! tooling; a real app renders the projection layer on the GPU.

use font8x8::UnicodeFonts;

/// An RGBA8 image.
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

impl Image {
    pub fn new(width: u32, height: u32, fill: [u8; 4]) -> Self {
        let mut rgba = Vec::with_capacity((width * height * 4) as usize);
        for _ in 0..width * height {
            rgba.extend_from_slice(&fill);
        }
        Self {
            width,
            height,
            rgba,
        }
    }

    fn put(&mut self, x: u32, y: u32, c: [u8; 4]) {
        if x < self.width && y < self.height {
            let i = ((y * self.width + x) * 4) as usize;
            self.rgba[i..i + 4].copy_from_slice(&c);
        }
    }

    fn rect(&mut self, x0: u32, y0: u32, w: u32, h: u32, c: [u8; 4]) {
        for y in y0..y0 + h {
            for x in x0..x0 + w {
                self.put(x, y, c);
            }
        }
    }

    /// Draws `text` with the 8x8 font, each font pixel `scale` pixels wide.
    pub fn text(&mut self, x0: u32, y0: u32, scale: u32, text: &str, c: [u8; 4]) {
        for (n, ch) in text.chars().enumerate() {
            let Some(glyph) = font8x8::BASIC_FONTS.get(ch) else {
                continue;
            };
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits >> col & 1 == 1 {
                        self.rect(
                            x0 + (n as u32 * 8 + col) * scale,
                            y0 + row as u32 * scale,
                            scale,
                            scale,
                            c,
                        );
                    }
                }
            }
        }
    }
}

fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    let t = t.clamp(0.0, 1.0);
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

fn rgba(c: [f32; 3], a: u8) -> [u8; 4] {
    [
        (c[0].clamp(0.0, 1.0) * 255.0) as u8,
        (c[1].clamp(0.0, 1.0) * 255.0) as u8,
        (c[2].clamp(0.0, 1.0) * 255.0) as u8,
        a,
    ]
}

/// The sky: blue above, pale at the horizon, a sun, distant hills below.
pub fn sky(width: u32, height: u32) -> Image {
    let mut img = Image::new(width, height, [0, 0, 0, 255]);
    let sun = (0.6f32, 0.35f32); // (longitude, latitude) radians
    for y in 0..height {
        // Latitude from +90° (top row) to -90°.
        let lat = (0.5 - (y as f32 + 0.5) / height as f32) * std::f32::consts::PI;
        for x in 0..width {
            let lon = ((x as f32 + 0.5) / width as f32 - 0.5) * std::f32::consts::TAU;
            let hills = 0.06 * (lon * 3.0).sin() + 0.03 * (lon * 7.0 + 1.0).sin() + 0.02;
            let c = if lat < hills {
                // Hills, darker towards the ground.
                mix([0.25, 0.38, 0.30], [0.10, 0.16, 0.12], (hills - lat) * 3.0)
            } else {
                let sky = mix([0.75, 0.85, 0.95], [0.20, 0.40, 0.80], lat * 1.8);
                let d = ((lon - sun.0).powi(2) + (lat - sun.1).powi(2)).sqrt();
                if d < 0.05 {
                    [1.0, 0.97, 0.85]
                } else {
                    mix([1.0, 0.9, 0.7], sky, (d - 0.05) * 6.0)
                }
            };
            img.put(x, y, rgba(c, 255));
        }
    }
    img
}

/// A view for drawing the floor: `stage_from_view` as (rotation matrix
/// columns, position) and the tangents of the field of view.
pub struct View {
    pub right: [f32; 3],
    pub up: [f32; 3],
    pub back: [f32; 3],
    pub position: [f32; 3],
    pub tan_left: f32,
    pub tan_right: f32,
    pub tan_up: f32,
    pub tan_down: f32,
}

/// The floor (a 1 m checkerboard fading into the distance, `floor_y`
/// metres below the view space's origin) through one eye, transparent
/// where there is no floor so the sky layer shows.
pub fn floor(view: &View, floor_y: f32, out: &mut Image) {
    let (w, h) = (out.width, out.height);
    for py in 0..h {
        let ty = view.tan_up + (view.tan_down - view.tan_up) * (py as f32 + 0.5) / h as f32;
        for px in 0..w {
            let tx =
                view.tan_left + (view.tan_right - view.tan_left) * (px as f32 + 0.5) / w as f32;
            // Direction = right*tx + up*ty - back.
            let d = [
                view.right[0] * tx + view.up[0] * ty - view.back[0],
                view.right[1] * tx + view.up[1] * ty - view.back[1],
                view.right[2] * tx + view.up[2] * ty - view.back[2],
            ];
            let i = ((py * w + px) * 4) as usize;
            if d[1] >= -1e-4 {
                out.rgba[i..i + 4].copy_from_slice(&[0, 0, 0, 0]);
                continue;
            }
            let t = (floor_y - view.position[1]) / d[1];
            let x = view.position[0] + d[0] * t;
            let z = view.position[2] + d[2] * t;
            let dist = (x * x + z * z).sqrt();
            let check = ((x.floor() as i64 + z.floor() as i64) & 1) == 0;
            let base = if check {
                [0.55, 0.55, 0.58]
            } else {
                [0.35, 0.36, 0.40]
            };
            // Thin lines on the tile edges; fade towards the horizon.
            let edge = (x - x.round()).abs().min((z - z.round()).abs()) < 0.01;
            let c = if edge { [0.9, 0.9, 0.95] } else { base };
            let fade = (1.0 - dist / 25.0).clamp(0.0, 1.0);
            let a = (fade * 255.0) as u8;
            out.rgba[i..i + 4].copy_from_slice(&rgba(c, a));
        }
    }
}

/// The title panel.
pub fn title(width: u32, height: u32) -> Image {
    let mut img = Image::new(width, height, [20, 24, 40, 210]);
    img.rect(0, 0, width, 6, [90, 160, 255, 255]);
    img.text(24, 28, 6, "PARALLAX", [255, 255, 255, 255]);
    img.text(28, 92, 2, "open mixed reality", [180, 200, 230, 255]);
    img
}

/// The curved menu: one tile per thing the platform does.
pub fn menu(width: u32, height: u32) -> Image {
    let mut img = Image::new(width, height, [0, 0, 0, 0]);
    let tiles = [
        ("APPS", [230, 80, 80, 240]),
        ("MEET", [80, 180, 110, 240]),
        ("HANDS", [240, 170, 60, 240]),
        ("DRIVERS", [90, 120, 230, 240]),
    ];
    let n = tiles.len() as u32;
    let tw = width / n;
    for (i, (label, c)) in tiles.iter().enumerate() {
        let x0 = i as u32 * tw + 6;
        img.rect(x0, 8, tw - 12, height - 16, *c);
        let scale = 2;
        let text_w = label.len() as u32 * 8 * scale;
        img.text(
            x0 + (tw - 12).saturating_sub(text_w) / 2,
            height / 2 - 8,
            scale,
            label,
            [255, 255, 255, 255],
        );
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_is_below_the_horizon_only() {
        let view = View {
            right: [1.0, 0.0, 0.0],
            up: [0.0, 1.0, 0.0],
            back: [0.0, 0.0, 1.0],
            position: [0.0, 0.0, 0.0],
            tan_left: -1.0,
            tan_right: 1.0,
            tan_up: 1.0,
            tan_down: -1.0,
        };
        let mut img = Image::new(64, 64, [0, 0, 0, 0]);
        floor(&view, -1.6, &mut img);
        let alpha = |x: u32, y: u32| img.rgba[((y * 64 + x) * 4 + 3) as usize];
        assert_eq!(alpha(32, 5), 0, "sky above the horizon is transparent");
        assert!(alpha(32, 60) > 200, "the floor below is opaque");
    }

    #[test]
    fn title_has_white_text() {
        let img = title(512, 128);
        let white = img
            .rgba
            .chunks_exact(4)
            .filter(|p| p[0] == 255 && p[1] == 255 && p[2] == 255)
            .count();
        assert!(white > 2000, "{white}");
    }
}
