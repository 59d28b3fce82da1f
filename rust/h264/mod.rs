//! H.264 encode core: bit writer, headers, frame state, references, rate control.
