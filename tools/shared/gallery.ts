// The gallery api-version the build trigger and gallery retention call.
// Hand-written: @azure/arm-compute 25.1.1 sends newer gallery versions than the program's 2024-03-03.
export const GALLERY_API_VERSION = "2024-03-03";
