/// <reference lib="webworker" />
// Service worker: precaches the app shell (Workbox injectManifest). Weights never pass through it.
import { precacheAndRoute } from 'workbox-precaching';
declare const self: ServiceWorkerGlobalScope;
precacheAndRoute(self.__WB_MANIFEST);
