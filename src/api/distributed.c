/* distributed.c: the process side of data-parallel training
 * (gloss_distributed_*): MPI's start and end, and this process's place
 * among the others. The training itself is gloss_train's (train.c). */
#include "api/api_internal.h"
#include "util/comm.h"

GLOSS_API gloss_status gloss_distributed_init(int *argc, char ***argv) { return gl_api_rc(gl_comm_init(argc, argv)); }

GLOSS_API int gloss_distributed_rank(void) { return gl_comm_world_rank(); }

GLOSS_API int gloss_distributed_size(void) { return gl_comm_world_size(); }

GLOSS_API void gloss_distributed_finalize(void) { gl_comm_finalize(); }
