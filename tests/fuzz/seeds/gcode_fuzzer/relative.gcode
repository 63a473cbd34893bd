; Fixture: the same two squares as absolute.gcode, written with relative E (M83) and partly with
; relative XYZ (G91), a G92 on X/Y, and the firmware's own coordinate offsets. Same moves expected.
G21
G90
M83
G28
G1 Z0.2 F3000
G1 X0 Y0 F6000
G91
G1 X10 E0.5 F1200
G1 Y10 E0.5
G1 X-10 E0.5
G1 Y-10 E0.5
G1 E-0.8 ; retract
G1 Z0.4 ; z hop to 0.6
G90
G1 X5 Y5
G1 Z0.4
G1 E0.8 ; unretract
G92 X100 Y100 ; logical (100,100) is now physical (5,5)
G1 X95 Y95 ; physical (0,0)
G91
G1 X10 E0.5
G1 Y10 E0.5
G90
G1 X95 Y105 E0.5
G1 X95 Y95 E0.5
G1 E-0.8
G1 Z10
M84
