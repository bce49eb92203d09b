/* The host's control channel: lines received on COM3 (docs/protocol.md, section 4). */
#pragma once

#define VECTOR_CONTROL 33
#define CONTROL_IRQ 5

/* Routes COM3's receive interrupt; without an I/O APIC the channel stays off (logged). */
void control_init(void);
/* The COM3 interrupt: reads what arrived and acts on each complete line. */
void control_irq(void);
