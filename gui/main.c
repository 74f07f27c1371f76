/* nook: the Nook app. */
#include <glib/gi18n.h>
#include <locale.h>

#include "nook-application.h"
#include "nook-trace.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(NookApplication) app = NULL;

  nook_trace_mark ("main");
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, NOOK_LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  app = nook_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
