; Fixture: arcs at z=0.2, relative E, radius 10 throughout.
; 1. G3 I/J: counter-clockwise quarter around (50,50), from (60,50) to (50,60).
; 2. G2 with negative R: clockwise the long way (270 degrees) from (50,60) to (60,50), which puts
;    the centre at (60,60).
; 3. G2 I/J ending where it starts: a full clockwise circle around (50,50).
; 4. G3 with R = half the chord: counter-clockwise half circle around (50,50) to (40,50).
G21
G90
M83
G1 Z0.2
G1 X60 Y50
G3 X50 Y60 I-10 J0 E0.8
G2 X60 Y50 R-10 E2.4
G2 X60 Y50 I-10 J0 E3.2
G3 X40 Y50 R10 E1.6
