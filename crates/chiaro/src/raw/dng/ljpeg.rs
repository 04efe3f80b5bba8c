//! Lossless JPEG (ITU T.81 process 14) decoder.
