// bench/upload.ts's CGI program: tests/_upload_app.ts through CGIHandler.
import { CGIHandler } from "../handlers.ts";
import { uploadApp } from "../tests/_upload_app.ts";

await new CGIHandler().run(uploadApp);
