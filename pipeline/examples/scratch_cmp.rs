use std::time::Instant;
fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).unwrap();
        for _ in 0..3 {
            let t = Instant::now();
            let a = image::load_from_memory(&bytes).unwrap().to_rgb8();
            let z = t.elapsed().as_secs_f64() * 1e3;
            let t = Instant::now();
            let mut d = jpeg_decoder::Decoder::new(&bytes[..]);
            let px = d.decode().unwrap();
            let j = t.elapsed().as_secs_f64() * 1e3;
            let t = Instant::now();
            let mut d = jpeg_decoder::Decoder::new(&bytes[..]);
            d.scale(a.width() as u16 / 2, a.height() as u16 / 2).unwrap();
            let px2 = d.decode().unwrap();
            let j2 = t.elapsed().as_secs_f64() * 1e3;
            println!("{path}: zune {z:.2} ms, jpeg-decoder full {j:.2} ms, half {j2:.2} ms ({} {})", px.len(), px2.len());
        }
    }
}
